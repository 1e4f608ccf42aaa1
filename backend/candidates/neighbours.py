"""Related actions for the platform: the lexicon (``lexicon/``, plain Python) loaded once per
process, and the neighbour lists the lexical sources (WordNet, Word2Vec) propose along.

WordNet takes seconds to load and the default vectors seconds to convert, so both are loaded
lazily, once per process (web, worker or command), keyed by the settings they came from. The
errors of the lexicon layer become ``DomainError``s with the lexicon's own messages, so the
API, commands and tasks report them as bad input.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from backend.candidates.models import Source
from backend.common.errors import DomainError

if TYPE_CHECKING:  # pragma: no cover
    from gensim.models import KeyedVectors

SHIPPED_VOCABULARY = Path(__file__).resolve().parents[1] / "vocabulary" / "data" / "mmit_v2_292.txt"

UNKNOWN_ACTION = "Unknown action {action!r}: {where} has no action of that name."
LEXICAL_SOURCES = (Source.WORDNET, Source.WORD2VEC)
NOT_A_LEXICAL_SOURCE = "Related actions come from wordnet or word2vec, not {source!r}."

_lock = threading.Lock()
_wordnet_ready: set[str] = set()
_vectors: dict[tuple[str, str], KeyedVectors] = {}
_guesses: dict[str, list[str]] = {}


def cache_dir() -> Path:
    return Path(getattr(settings, "MMIT_CACHE_DIR"))


def wordnet_ready() -> None:
    """Make WordNet readable in this process (built once into the cache directory)."""
    from backend.candidates.lexicon.wordnet import WordNetMissingError, ensure_wordnet

    key = str(cache_dir())
    with _lock:
        if key in _wordnet_ready:
            return
        try:
            ensure_wordnet(cache_dir=cache_dir())
        except WordNetMissingError as exc:
            raise DomainError(str(exc)) from exc
        _wordnet_ready.add(key)


def word_vectors() -> KeyedVectors:
    """The vectors of ``MMIT_VECTORS_PATH`` (None: the default GloVe 6B 50-d), loaded once."""
    from backend.candidates.lexicon.vectors import VectorsFormatError, load_vectors

    path = getattr(settings, "MMIT_VECTORS_PATH", None)
    key = (str(path), str(cache_dir()))
    with _lock:
        if key not in _vectors:
            try:
                _vectors[key] = load_vectors(path=path, cache_dir=cache_dir())
            except (FileNotFoundError, VectorsFormatError, LookupError) as exc:
                raise DomainError(str(exc), field="vectors") from exc
        return _vectors[key]


def shipped_vocabulary() -> list[str]:
    """The 292 action names of the Multi-Moments in Time release."""
    from backend.vocabulary.names import read_vocabulary_file

    return read_vocabulary_file(str(SHIPPED_VOCABULARY))


def guessed_synsets(names: Sequence[str]) -> dict[str, list[str]]:
    """The automatic synset guess of every name, memoised per process (a guess is a pure
    function of the name and takes milliseconds; the shipped vocabulary takes seconds)."""
    from backend.candidates.lexicon.wordnet import guess_synsets

    wordnet_ready()
    missing = [name for name in names if name not in _guesses]
    for name in missing:
        _guesses[name] = guess_synsets(name)
    return {name: list(_guesses[name]) for name in names}


def synset_glosses(synset_ids: Sequence[str]) -> dict[str, str]:
    """``{synset id: WordNet gloss}`` for the ids WordNet knows (a typo'd id is left out); the
    vocabulary's gloss provider (registered in ``CandidatesConfig.ready``)."""
    from nltk.corpus.reader.wordnet import WordNetError

    from backend.candidates.lexicon.wordnet import wordnet_reader

    wordnet_ready()
    reader = wordnet_reader()
    found = {}
    for synset_id in synset_ids:
        try:
            found[synset_id] = reader.synset(synset_id).definition()
        except (WordNetError, ValueError, AttributeError):
            continue
    return found


def wordnet_neighbours(
    *, action_synsets: Mapping[str, Sequence[str]], sources: Sequence[str], distance: int
) -> dict[str, list[tuple[str, float]]]:
    """Actions within ``distance`` graph edges of each of ``sources``: ``{source: [(action, d)]}``."""
    from backend.candidates.lexicon.wordnet import UNKNOWN_ACTION as LEXICON_UNKNOWN_ACTION
    from backend.candidates.lexicon.wordnet import relation_table

    wordnet_ready()
    for source in sources:
        if source not in action_synsets:
            raise DomainError(LEXICON_UNKNOWN_ACTION.format(action=source, count=len(action_synsets)))
    try:
        # One table for the whole vocabulary: the synset index is built once, whereas
        # `related_actions` per action would rebuild (and re-validate) it every time.
        table = relation_table(action_synsets=action_synsets, max_distance=distance)
    except ValueError as exc:  # an unknown synset id typed by a curator, a negative distance
        raise DomainError(str(exc)) from exc
    return {source: [(name, float(d)) for name, d in table[source]] for source in sources}


def word2vec_neighbours(
    *, actions: Sequence[str], sources: Sequence[str], threshold: float, limit: int | None
) -> dict[str, list[tuple[str, float]]]:
    """The most similar actions of each of ``sources``: ``{source: [(action, similarity)]}``."""
    from backend.candidates.lexicon.vectors import similarity_table

    vectors = word_vectors()
    try:
        return similarity_table(vectors, actions=actions, threshold=threshold, limit=limit, sources=sources)
    except ValueError as exc:  # threshold out of range, bad limit
        raise DomainError(str(exc)) from exc


def related_actions_list(
    *,
    action: str,
    source: str,
    actions: Mapping[str, Sequence[str]],
    where: str,
    limit: int | None = None,
    distance: int | None = None,
    threshold: float | None = None,
) -> list[tuple[str, float]]:
    """What a curator inspects: the neighbours of one action in a vocabulary.

    Args:
        action: the action's name.
        source: ``wordnet`` (score: node distance) or ``word2vec`` (score: cosine similarity).
        actions: the vocabulary, name -> synsets (guessed or curated; unused by word2vec).
        where: how to name the vocabulary in errors ("dataset 'x'", "the shipped vocabulary").
        limit: keep the first ``limit`` neighbours.
        distance, threshold: WordNet's d and Word2Vec's threshold (defaults: the policy's).

    Raises:
        DomainError: ``UNKNOWN_ACTION``, ``NOT_A_LEXICAL_SOURCE``, a bad threshold or limit,
            missing WordNet or unreadable vectors.
    """
    from backend.candidates.lexicon.wordnet import DEFAULT_MAX_DISTANCE
    from backend.candidates.policy import RoundPolicy

    if source not in LEXICAL_SOURCES:
        raise DomainError(NOT_A_LEXICAL_SOURCE.format(source=source), field="source")
    if action not in actions:
        raise DomainError(UNKNOWN_ACTION.format(action=action, where=where), field="action")
    if limit is not None and limit < 1:
        raise DomainError(f"limit must be 1 or more, got {limit}.", field="limit")
    if source == Source.WORDNET:
        table = wordnet_neighbours(
            action_synsets=actions, sources=[action], distance=DEFAULT_MAX_DISTANCE if distance is None else distance
        )
    else:
        policy = RoundPolicy.from_settings(**({} if threshold is None else {"word2vec_threshold": threshold}))
        table = word2vec_neighbours(
            actions=list(actions), sources=[action], threshold=policy.word2vec_threshold, limit=None
        )
    found = table[action]
    return found[:limit] if limit is not None else found
