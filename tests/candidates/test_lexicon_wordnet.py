"""Action-name parsing and the WordNet source, on the real WordNet 3.0 and vocabularies."""
from __future__ import annotations

import threading
from pathlib import Path

import nltk
import pytest

from backend.candidates.lexicon.names import (
    EMPTY_ACTION_NAME,
    WordNetTerm,
    action_words,
    ing_form,
    ing_lemma_candidates,
    parse_action_name,
    verb_lemma,
    wordnet_term,
)
from backend.candidates.lexicon.wordnet import (
    BAD_SENSE_LIMIT,
    DEBIAN_WORDNET_DIR,
    LEXNAMES,
    NEGATIVE_DISTANCE,
    UNKNOWN_ACTION,
    UNKNOWN_SYNSET,
    WORDNET_MISSING,
    WordNetMissingError,
    ensure_wordnet,
    guess_synsets,
    related_actions,
    relation_table,
    synset_neighbours,
    wordnet_reader,
)

VOCABULARY_DIR = Path(__file__).resolve().parents[2] / "backend" / "vocabulary" / "data"
VOCABULARIES = ("mmit_v2_292.txt", "mit_v2_305.txt")

# The "Done means": neighbours a curator expects (kept where the vocabulary has them).
EXPECTED_NEIGHBOURS = {
    "running": {"sprinting", "racing", "jogging"},
    "applauding": {"clapping", "cheering"},
    "cooking": {"frying", "baking", "grilling"},
}

needs_debian_wordnet = pytest.mark.skipif(
    not (DEBIAN_WORDNET_DIR / "data.verb").is_file(),
    reason="Debian's wordnet-base/wordnet-sense-index are not installed",
)


def read_vocabulary(file_name: str) -> list[str]:
    return [line.strip() for line in (VOCABULARY_DIR / file_name).read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def wordnet(tmp_path_factory):
    ensure_wordnet(cache_dir=tmp_path_factory.mktemp("wordnet-cache"))
    return wordnet_reader()


@pytest.fixture(scope="session")
def guessed(wordnet):
    """Guessed synsets for every action of both shipped vocabularies, computed once."""
    return {
        file_name: {action: guess_synsets(action) for action in read_vocabulary(file_name)}
        for file_name in VOCABULARIES
    }


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("running", (("running",),)),
        ("ascending/rising", (("ascending",), ("rising",))),
        ("adult+female+speaking", (("adult", "female", "speaking"),)),
        ("Ice Skating", (("ice", "skating"),)),
        ("buying/selling//shopping", (("buying",), ("selling",), ("shopping",))),
        ("a+b/a+b", (("a", "b"),)),
    ],
)
def test_parse_action_name(name, expected):
    assert parse_action_name(name) == expected


@pytest.mark.parametrize("name", ["", "/", "+/+", "  "])
def test_parse_action_name_without_words_is_an_error(name):
    with pytest.raises(ValueError) as error:
        parse_action_name(name)
    assert str(error.value) == EMPTY_ACTION_NAME.format(name=name)


def test_action_words_keeps_order_and_drops_repeats():
    assert action_words("stroking/petting") == ["stroking", "petting"]
    assert action_words("adult+male+singing/child+singing") == ["adult", "male", "singing", "child"]


@pytest.mark.parametrize(
    ("lemma", "expected"),
    [("run", "running"), ("dine", "dining"), ("din", "dinning"), ("die", "dying"), ("see", "seeing"),
     ("ski", "skiing"), ("snow", "snowing"), ("wax", "waxing"), ("fuel", "fueling"), ("squat", "squatting"),
     ("unplug", "unplugging"), ("visit", "visiting"), ("open", "opening")],
)
def test_ing_form(lemma, expected):
    assert ing_form(lemma) == expected


def test_ing_lemma_candidates_put_the_spelling_match_first():
    assert ing_lemma_candidates("running")[0] == "run"
    assert ing_lemma_candidates("dining")[:2] == ["dine", "din"]
    assert ing_lemma_candidates("dying")[0] == "die"
    assert ing_lemma_candidates("ice") == []


@pytest.mark.parametrize(
    ("word", "lemma"),
    [("running", "run"), ("bicycling", "bicycle"), ("dining", "dine"), ("frying", "fry"), ("taping", "tape"),
     ("tapping", "tap"), ("singing", "sing"), ("lying", "lie"), ("queuing", "queue"), ("barbecuing", "barbecue")],
)
def test_verb_lemma(wordnet, word, lemma):
    assert verb_lemma(word, wordnet=wordnet) == lemma


def test_verb_lemma_without_a_verb(wordnet):
    assert verb_lemma("texting", wordnet=wordnet) is None  # WordNet 3.0 predates the verb
    assert verb_lemma("music", wordnet=wordnet) is None  # only -ing words head an action


def test_wordnet_term_prefers_collocations_then_the_ing_head(wordnet):
    assert wordnet_term(("ice", "skating"), wordnet=wordnet) == WordNetTerm(lemma="ice_skate", context=())
    assert wordnet_term(("adult", "female", "speaking"), wordnet=wordnet) == WordNetTerm(
        lemma="speak", context=("adult", "female")
    )
    assert wordnet_term(("playing", "music"), wordnet=wordnet) == WordNetTerm(lemma="play", context=("music",))
    assert wordnet_term(("texting",), wordnet=wordnet) is None


# --- ensure_wordnet ----------------------------------------------------------------------


@needs_debian_wordnet
def test_ensure_wordnet_builds_the_corpus_from_debian(tmp_path, monkeypatch):
    monkeypatch.setattr(nltk.data, "path", [])  # as on a machine without nltk_data
    corpus = ensure_wordnet(cache_dir=tmp_path)

    assert corpus == tmp_path / "nltk_data" / "corpora" / "wordnet"
    assert str(tmp_path / "nltk_data") in nltk.data.path
    assert nltk.data.find("corpora/wordnet").path == str(corpus)
    for name in ["data.verb", "index.verb", "verb.exc", "index.sense", "cntlist.rev"]:
        assert (corpus / name).read_bytes() == (DEBIAN_WORDNET_DIR / name).read_bytes()
        assert not (corpus / name).is_symlink()  # nltk refuses links leaving its root
    lines = (corpus / "lexnames").read_text().splitlines()
    assert len(lines) == 45 == len(LEXNAMES)
    assert lines[0] == "00\tadj.all\t3" and lines[38] == "38\tverb.motion\t2" and lines[44] == "44\tadj.ppl\t3"
    assert not [path for path in corpus.parent.iterdir() if path.name.startswith(".")]  # no staging left


def test_the_corpus_in_use_has_lexnames_and_sense_counts(wordnet):
    # On a machine without nltk_data this is the corpus ensure_wordnet built from Debian.
    run = wordnet.synset("run.v.01")
    assert run.lexname() == "verb.motion"
    assert wordnet.synset("cheer.v.01").lexname() == "verb.emotion"
    assert run.lemmas()[0].count() == 106  # cntlist.rev
    assert len(wordnet.synsets("run", pos="v")) == 41


@needs_debian_wordnet
def test_ensure_wordnet_is_idempotent(tmp_path, monkeypatch):
    monkeypatch.setattr(nltk.data, "path", [])
    corpus = ensure_wordnet(cache_dir=tmp_path)
    before = (corpus / "data.verb").stat().st_mtime_ns
    monkeypatch.setattr(nltk.data, "path", [])  # a fresh process: nothing registered yet
    assert ensure_wordnet(cache_dir=tmp_path) == corpus
    assert (corpus / "data.verb").stat().st_mtime_ns == before
    assert nltk.data.path == [str(tmp_path / "nltk_data")]


@needs_debian_wordnet
def test_ensure_wordnet_concurrent_builds_end_with_one_corpus(tmp_path, monkeypatch):
    monkeypatch.setattr(nltk.data, "path", [])
    start = threading.Barrier(4)
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        start.wait()
        try:
            results.append(ensure_wordnet(cache_dir=tmp_path))
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert set(results) == {tmp_path / "nltk_data" / "corpora" / "wordnet"}
    assert sorted(path.name for path in (tmp_path / "nltk_data" / "corpora").iterdir()) == ["wordnet"]
    assert (results[0] / "lexnames").is_file()


def test_ensure_wordnet_without_any_source_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(nltk.data, "path", [])
    missing = tmp_path / "no-debian"
    with pytest.raises(WordNetMissingError) as error:
        ensure_wordnet(cache_dir=tmp_path / "cache", debian_dir=missing)
    assert str(error.value).startswith(WORDNET_MISSING.split("{missing}")[0].format(debian_dir=missing))
    assert "apt-get install wordnet-base wordnet-sense-index" in str(error.value)
    assert "python -m nltk.downloader wordnet" in str(error.value)
    assert not (tmp_path / "cache").exists()  # nothing written


# --- guess_synsets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "first", "absent"),
    [
        # run has 41 verb senses; the second most frequent one, "operate a business",
        # would make running a neighbour of operating.
        ("running", "run.v.01", {"operate.v.01", "run.v.03"}),
        ("frying", "fry.v.02", {"fry.v.01"}),  # not the stative "be excessively hot"
        ("clapping", "clap.v.04", set()),  # "clap one's hands together"
        ("playing+music", "play.v.07", set()),  # "perform music on (a musical instrument)"
        ("playing+sports", "play.v.01", {"play.v.07"}),  # "participate in games or sport"
        ("reading", "read.v.01", set()),
        ("sawing", "saw.v.01", {"see.v.17", "see.v.19"}),  # "saw" is also the past of "see"
    ],
)
def test_guess_synsets_picks_the_visible_sense(wordnet, action, first, absent):
    synsets = guess_synsets(action)
    assert synsets[0] == first
    assert not set(synsets) & absent


def test_guess_synsets_covers_the_senses_the_neighbours_hang_under(wordnet):
    assert "cook.v.03" in guess_synsets("cooking")  # hypernym of fry, bake, grill
    assert "applaud.v.01" in guess_synsets("clapping")
    assert set(guess_synsets("applauding")) == {"applaud.v.01", "applaud.v.02"}


def test_guess_synsets_merged_and_multiword_names(wordnet):
    lemmas = lambda synsets: {lemma.name() for name in synsets for lemma in wordnet.synset(name).lemmas()}  # noqa: E731
    assert {"smell", "sniff"} <= lemmas(guess_synsets("smelling/sniffing"))
    assert {"buy", "sell", "shop"} <= lemmas(guess_synsets("buying/selling/shopping", limit=1))
    assert guess_synsets("ice+skating") == ["ice_skate.v.01"]
    assert "speak" in lemmas(guess_synsets("adult+female+speaking"))


def test_guess_synsets_limit_and_unknown_words(wordnet):
    assert len(guess_synsets("cooking", limit=1)) == 1
    assert guess_synsets("texting") == []
    with pytest.raises(ValueError) as error:
        guess_synsets("running", limit=0)
    assert str(error.value) == BAD_SENSE_LIMIT.format(limit=0)


@pytest.mark.parametrize("file_name", VOCABULARIES)
def test_guess_synsets_maps_the_whole_vocabulary_to_few_verb_senses(guessed, file_name):
    synsets = guessed[file_name]
    unmapped = sorted(action for action, ids in synsets.items() if not ids)
    assert unmapped == (["texting"] if "texting" in synsets else [])
    for action, ids in synsets.items():
        assert len(ids) <= max(3, len(parse_action_name(action))), action
        assert all(".v." in synset for synset in ids), action


# --- related_actions / relation_table ----------------------------------------------------


@pytest.mark.parametrize("file_name", VOCABULARIES)
@pytest.mark.parametrize("source", sorted(EXPECTED_NEIGHBOURS))
def test_related_actions_gives_the_expected_neighbours(guessed, file_name, source):
    action_synsets = guessed[file_name]
    expected = EXPECTED_NEIGHBOURS[source] & set(action_synsets)
    assert expected, "the vocabulary should hold some of the expected neighbours"
    related = dict(related_actions(action_synsets=action_synsets, source=source, max_distance=1))
    assert expected <= set(related), related
    # Not everything: at d=1 WordNet stays specific.
    assert len(related) <= 8


def test_related_actions_distances(guessed):
    action_synsets = guessed["mmit_v2_292.txt"]
    related = related_actions(action_synsets=action_synsets, source="applauding", max_distance=2)
    distances = dict(related)
    assert distances["clapping"] == 0  # both map to applaud.v.01 ("clap one's hands ...")
    assert distances["cheering"] == 1  # cheer.v.02 is a kind of applaud.v.02
    assert {"waving", "saluting", "bowing"} <= set(distances)  # sibling gestures at 2
    assert related == sorted(related, key=lambda item: (item[1], item[0]))
    assert "applauding" not in distances
    assert all(0 <= distance <= 2 for distance in distances.values())
    only_shared = related_actions(action_synsets=action_synsets, source="applauding", max_distance=0)
    assert only_shared == [("clapping", 0)]


def test_related_actions_grow_with_the_distance(guessed):
    action_synsets = guessed["mmit_v2_292.txt"]
    previous: dict[str, int] = {}
    for max_distance in range(4):
        current = dict(related_actions(action_synsets=action_synsets, source="running", max_distance=max_distance))
        assert {action: current[action] for action in previous} == previous  # same distances, more actions
        assert len(current) >= len(previous)
        previous = current
    assert len(previous) > 10


def test_related_actions_follow_curated_synsets(wordnet):
    # A curator mapping running to the business sense gets what they asked for.
    action_synsets = {"running": ["operate.v.01"], "operating": ["operate.v.01"], "sprinting": ["sprint.v.01"]}
    assert related_actions(action_synsets=action_synsets, source="running", max_distance=1) == [("operating", 0)]
    action_synsets["running"] = ["run.v.01"]
    assert related_actions(action_synsets=action_synsets, source="running", max_distance=1) == [("sprinting", 1)]


def test_relation_table_matches_related_actions(guessed):
    action_synsets = guessed["mit_v2_305.txt"]
    table = relation_table(action_synsets=action_synsets, max_distance=2)
    assert set(table) == set(action_synsets)
    for source in ["running", "applauding", "cooking", "eating", "walking", "talking"]:
        assert table[source] == related_actions(action_synsets=action_synsets, source=source, max_distance=2)
    # The graph is undirected, so relations are symmetric with equal distances.
    for source, related in table.items():
        for target, distance in related:
            assert (source, distance) in table[target]


def test_actions_without_synsets_have_no_relations(guessed):
    action_synsets = guessed["mmit_v2_292.txt"]
    assert action_synsets["texting"] == []
    assert relation_table(action_synsets=action_synsets, max_distance=1)["texting"] == []


def test_relation_errors(wordnet):
    action_synsets = {"running": ["run.v.01"], "jumping": ["jump.v.01"]}
    with pytest.raises(ValueError) as error:
        related_actions(action_synsets=action_synsets, source="flying", max_distance=1)
    assert str(error.value) == UNKNOWN_ACTION.format(action="flying", count=2)
    with pytest.raises(ValueError) as error:
        relation_table(action_synsets={**action_synsets, "x": ["nonsense.v.99"]}, max_distance=1)
    assert str(error.value) == UNKNOWN_SYNSET.format(synset="nonsense.v.99", action="x")
    with pytest.raises(ValueError) as error:
        related_actions(action_synsets=action_synsets, source="running", max_distance=-1)
    assert str(error.value) == NEGATIVE_DISTANCE.format(max_distance=-1)


def test_synset_graph_edges(wordnet):
    run = set(synset_neighbours("run.v.01"))
    assert {"sprint.v.01", "jog.v.03", "trot.v.01", "travel_rapidly.v.01"} <= run  # hyponyms, hypernym
    assert "race.v.02" in run  # derivational bridge through footrace.n.01
    assert "run.v.03" not in run  # other senses of the same word are not neighbours
    assert "run.v.01" in synset_neighbours("sprint.v.01")
    # Entailments are stored one way (snore -> sleep); the graph goes both ways.
    assert "sleep.v.01" in synset_neighbours("snore.v.01")
    assert "snore.v.01" in synset_neighbours("sleep.v.01")
