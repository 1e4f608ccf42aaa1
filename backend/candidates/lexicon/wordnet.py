"""WordNet as a candidate source: actions map to verb synsets, relations are graph distances.

Section 3.1.1 of the Multi-Moments in Time paper ("Approach 1") asks, for every video
labelled with an action, about the vocabulary actions "closely linked in the WordNet
semantic graph", growing the node distance round by round until the harvest rate drops.
This module holds the lexical part only (no Django):

- ``ensure_wordnet`` makes WordNet 3.0 readable by nltk, building the corpus once from
  Debian's ``wordnet-base``/``wordnet-sense-index`` files when nltk has none (there is
  no network for ``nltk.download`` on the platform's machines).
- ``guess_synsets`` proposes the verb senses an action name most likely means; curators
  correct them, so everything after takes explicit synset ids.
- ``related_actions``/``relation_table`` find the actions within a node distance.
"""
from __future__ import annotations

import functools
import math
import os
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from backend.candidates.lexicon.names import WordNetTerm, parse_action_name, verb_lemma, wordnet_term

if TYPE_CHECKING:  # pragma: no cover
    from nltk.corpus.reader.wordnet import Synset, WordNetCorpusReader

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
CORPUS_SUBDIR = Path("corpora") / "wordnet"
DEFAULT_SENSE_LIMIT = 3
DEFAULT_MAX_DISTANCE = 2

WORDNET_MISSING = (
    "WordNet 3.0 is not available: nltk has no corpora/wordnet and {debian_dir} lacks {missing}. "
    "Install it with `apt-get install wordnet-base wordnet-sense-index` (then call "
    "ensure_wordnet(cache_dir=...)) or `python -m nltk.downloader wordnet`."
)
WORDNET_NOT_READY = (
    "WordNet is not registered with nltk: call ensure_wordnet(cache_dir=...) first, or install it "
    "with `apt-get install wordnet-base wordnet-sense-index` or `python -m nltk.downloader wordnet`."
)
UNKNOWN_ACTION = "Unknown action {action!r}: it is not among the {count} actions given."
UNKNOWN_SYNSET = "Unknown WordNet synset {synset!r} for action {action!r} (expected an id like 'run.v.01')."
NEGATIVE_DISTANCE = "max_distance must be 0 or more, got {max_distance}."
BAD_SENSE_LIMIT = "limit must be 1 or more, got {limit}."

# The files nltk's WordNetCorpusReader opens; Debian ships all but `lexnames`.
_REQUIRED_DEBIAN_FILES = (
    "cntlist.rev",
    "index.sense",
    *(f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")),
    *(f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")),
)

# WordNet 3.0's lexicographer files (lexnames(5WN)): number, name, syntactic category.
# Debian does not ship the `lexnames` data file nltk reads, only its man page.
LEXNAMES: tuple[tuple[int, str, int], ...] = tuple(
    (number, name, {"noun": 1, "verb": 2, "adj": 3, "adv": 4}[name.split(".")[0]])
    for number, name in enumerate(
        (
            "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal",
            "noun.artifact", "noun.attribute", "noun.body", "noun.cognition",
            "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
            "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon",
            "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
            "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body",
            "verb.change", "verb.cognition", "verb.communication", "verb.competition",
            "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
            "verb.perception", "verb.possession", "verb.social", "verb.stative",
            "verb.weather", "adj.ppl",
        )
    )
)


class WordNetMissingError(LookupError):
    """WordNet cannot be read; the message names the fix."""


def ensure_wordnet(*, cache_dir: str | os.PathLike[str], debian_dir: str | os.PathLike[str] = DEBIAN_WORDNET_DIR) -> Path:
    """Make WordNet 3.0 readable through ``nltk.corpus.wordnet`` and say where it lives.

    nltk's own data path wins when it already has ``corpora/wordnet``. Otherwise the corpus
    is assembled once under ``cache_dir/nltk_data/corpora/wordnet`` from the Debian files
    and that ``nltk_data`` directory is added to ``nltk.data.path``. Safe to call again and
    from several processes at once: the corpus is built in a private temporary directory
    and renamed into place, so readers never see half a corpus.

    Args:
        cache_dir: a writable directory for the assembled corpus.
        debian_dir: where ``wordnet-base`` and ``wordnet-sense-index`` put their files.

    Returns:
        The WordNet corpus nltk reads (a directory, or nltk's ``wordnet.zip``).

    Raises:
        WordNetMissingError: ``WORDNET_MISSING`` when neither source exists; nothing is written.
    """
    import nltk

    found = _nltk_wordnet_location()
    if found is not None:
        return found
    data_root = Path(cache_dir) / "nltk_data"
    target = data_root / CORPUS_SUBDIR
    if not (target / "lexnames").is_file():
        _build_corpus(source=Path(debian_dir), target=target)
    if str(data_root) not in nltk.data.path:
        nltk.data.path.append(str(data_root))
    return target


def _build_corpus(*, source: Path, target: Path) -> None:
    missing = [name for name in _REQUIRED_DEBIAN_FILES if not (source / name).is_file()]
    if missing:
        raise WordNetMissingError(WORDNET_MISSING.format(debian_dir=source, missing=", ".join(missing)))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
    try:
        # mkdtemp makes it private (0700); the renamed copy is shared with other users
        # of the cache (web and worker processes may run as different users).
        staging.chmod(0o755)
        for path in source.iterdir():
            if path.is_file():
                # Copied (36 MB once), not linked: nltk's path security refuses symlinks
                # leaving the corpus root and any file with more than one hard link.
                shutil.copyfile(path, staging / path.name)
        (staging / "lexnames").write_text(
            "".join(f"{number:02d}\t{name}\t{category}\n" for number, name, category in LEXNAMES),
            encoding="ascii",
        )
        try:
            staging.rename(target)
        except OSError:
            # Another process renamed its complete copy first; theirs is as good as ours.
            if not (target / "lexnames").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def wordnet_reader() -> WordNetCorpusReader:
    """nltk's WordNet reader, loaded; ``ensure_wordnet`` must have run in this process.

    Raises:
        WordNetMissingError: ``WORDNET_NOT_READY`` when nltk cannot find the corpus.
    """
    from nltk.corpus import wordnet

    if _nltk_wordnet_location() is None:
        raise WordNetMissingError(WORDNET_NOT_READY)
    wordnet.ensure_loaded()
    return wordnet


def _nltk_wordnet_location() -> Path | None:
    import nltk

    try:
        pointer = nltk.data.find(str(CORPUS_SUBDIR))
    except LookupError:
        return None
    # A directory gives a FileSystemPathPointer, nltk's wordnet.zip a ZipFilePathPointer.
    return Path(pointer.path) if hasattr(pointer, "path") else Path(pointer.zipfile.filename)


# --- Sense guessing ---------------------------------------------------------------------

# Lexicographer files of verbs one can see or hear in a clip. Communication is here
# because the vocabulary has many audible actions (applauding, cheering, shouting).
PHYSICAL_LEXNAMES = frozenset(
    {
        "verb.body", "verb.change", "verb.communication", "verb.competition",
        "verb.consumption", "verb.contact", "verb.creation", "verb.motion",
        "verb.perception", "verb.weather",
    }
)
# Senses nobody films: "the road runs along the river", "cheer: give encouragement to".
# verb.social and verb.possession stay neutral: they hold visible actions (marrying,
# buying) but also the abstract senses that make polysemous verbs wrong ("run a company"
# is verb.social and would make running a neighbour of operating).
ABSTRACT_LEXNAMES = frozenset({"verb.stative", "verb.cognition", "verb.emotion"})
# A gloss naming a body part describes something visible ("clap one's hands together",
# "move fast by using one's feet").
_BODY_WORDS = frozenset(
    "hand hands foot feet mouth lips teeth tongue head arm arms leg legs body eye eyes "
    "finger fingers face knee knees nose toes shoulder shoulders".split()
)
_PHYSICAL_BONUS = 1.0
_ABSTRACT_PENALTY = -1.5
_HEAD_LEMMA_BONUS = 0.5  # the word is the synset's first lemma: its main meaning
_BODY_GLOSS_BONUS = 0.75
# The rest of a name was written to say which sense is meant, so it outweighs corpus
# frequency: "playing+music" is "perform music on (a musical instrument)" although "play"
# most often means "participate in games or sport".
_CONTEXT_LEMMA_BONUS = 2.0  # another alternative is a synonym in the synset (ascend/rise)
_CONTEXT_GLOSS_BONUS = 2.5  # another word shows up in the gloss (playing+music)
# Senses scoring this far below an alternative's best one are dropped even when the limit
# has room: they are the rare readings ("run: move along, of liquids") that would relate
# the action to unrelated ones (running -> flowing).
_MAX_SCORE_GAP = 2.0

_TOKEN = re.compile(r"[a-z]+")


def guess_synsets(action_name: str, *, limit: int = DEFAULT_SENSE_LIMIT) -> list[str]:
    """A first guess of the verb synsets an action name means, best first.

    Each alternative of the name (``ascending/rising``) is looked up as a verb
    (``ice+skating`` as the collocation ``ice_skate``; ``adult+female+speaking`` as
    ``speak``) and its senses are scored by:

    - their frequency in WordNet's sense-tagged corpus (``cntlist``; ``log1p`` so a
      frequent abstract sense does not drown the physical one),
    - the lexicographer file: physical files up, stative/cognition/emotion down,
    - the word being the synset's first lemma and the gloss naming a body part,
    - agreement with the rest of the name: another alternative among the synset's
      lemmas (``ascend``/``rise``), or another word in the gloss (``music``).

    Every alternative contributes its best sense first, then the best remaining senses
    fill up to ``limit``.

    Args:
        action_name: a vocabulary name.
        limit: how many synsets to return at most (more only when the name has more
            alternatives than ``limit``).

    Returns:
        Synset ids such as ``["cook.v.01", "cook.v.02", "cook.v.03"]``; ``[]`` when WordNet has no verb
        for the name (``texting``).
    """
    if limit < 1:
        raise ValueError(BAD_SENSE_LIMIT.format(limit=limit))
    wordnet = wordnet_reader()
    alternatives = parse_action_name(action_name)
    terms = [term for words in alternatives if (term := wordnet_term(words, wordnet=wordnet))]
    ranked_per_term: list[list[tuple[float, int, str]]] = []
    for term in terms:
        others = _context_words(term, terms=terms, wordnet=wordnet)
        scored = [
            (_sense_score(synset, term=term, context=others), rank, synset.name())
            for rank, synset in enumerate(_verb_senses(term.lemma, wordnet=wordnet))
        ]
        if scored:
            best = max(score for score, _, _ in scored)
            kept = [item for item in scored if item[0] >= best - _MAX_SCORE_GAP]
            ranked_per_term.append(sorted(kept, key=lambda item: (-item[0], item[1])))

    chosen: dict[str, None] = {}
    for ranked in sorted(ranked_per_term, key=lambda ranked: -ranked[0][0]):
        chosen.setdefault(ranked[0][2])
    rest = sorted((item for ranked in ranked_per_term for item in ranked[1:]), key=lambda item: (-item[0], item[1]))
    for _, _, name in rest:
        if len(chosen) >= limit:
            break
        chosen.setdefault(name)
    return list(chosen)


def _verb_senses(lemma: str, *, wordnet: WordNetCorpusReader) -> list[Synset]:
    # synsets() runs morphy again, so "saw" would also bring the senses of "see".
    return [
        synset
        for synset in wordnet.synsets(lemma, pos=wordnet.VERB)
        if any(item.name().lower() == lemma for item in synset.lemmas())
    ]


def _context_words(term: WordNetTerm, *, terms: Sequence[WordNetTerm], wordnet: WordNetCorpusReader) -> set[str]:
    """The words that tell which sense of ``term`` is meant: the rest of the name."""
    words = set(term.context)
    for other in terms:
        if other is not term:
            words.update([other.lemma, *other.context])
    # Plural nouns in names (playing+sports) should meet the singular in glosses.
    words.update(lemma for word in list(words) if (lemma := wordnet.morphy(word, wordnet.NOUN)))
    words.update(lemma for word in list(words) if (lemma := verb_lemma(word, wordnet=wordnet)))
    words.discard(term.lemma)
    return words


def _sense_score(synset: Synset, *, term: WordNetTerm, context: set[str]) -> float:
    lemmas = synset.lemmas()
    names = [lemma.name().lower() for lemma in lemmas]
    count = sum(lemma.count() for lemma, name in zip(lemmas, names) if name == term.lemma)
    score = math.log1p(count)
    lexname = synset.lexname()
    if lexname in PHYSICAL_LEXNAMES:
        score += _PHYSICAL_BONUS
    elif lexname in ABSTRACT_LEXNAMES:
        score += _ABSTRACT_PENALTY
    if names and names[0] == term.lemma:
        score += _HEAD_LEMMA_BONUS
    gloss = set(_TOKEN.findall(" ".join([synset.definition(), *synset.examples()]).lower()))
    if gloss & _BODY_WORDS:
        score += _BODY_GLOSS_BONUS
    if context & set(names):
        score += _CONTEXT_LEMMA_BONUS
    elif context & gloss:
        score += _CONTEXT_GLOSS_BONUS
    return score


# --- Relations --------------------------------------------------------------------------


def related_actions(
    *, action_synsets: Mapping[str, Sequence[str]], source: str, max_distance: int = DEFAULT_MAX_DISTANCE
) -> list[tuple[str, int]]:
    """The vocabulary actions within ``max_distance`` edges of ``source`` in the synset graph.

    The distance between two actions is the shortest path between any synset of one and
    any synset of the other (0 when they share a synset). Edges are described in
    ``synset_neighbours``.

    Args:
        action_synsets: every vocabulary action with its synset ids (curated or guessed).
        source: the action whose neighbours are wanted; a key of ``action_synsets``.
        max_distance: the node distance d of the paper, grown round by round.

    Returns:
        ``(action, distance)`` pairs sorted by distance then name, ``source`` excluded.

    Raises:
        ValueError: ``UNKNOWN_ACTION``, ``UNKNOWN_SYNSET`` or ``NEGATIVE_DISTANCE``.
    """
    if source not in action_synsets:
        raise ValueError(UNKNOWN_ACTION.format(action=source, count=len(action_synsets)))
    _check_distance(max_distance)
    index = _synset_index(action_synsets)
    return _bfs_actions(source=source, starts=action_synsets[source], index=index, max_distance=max_distance)


def relation_table(
    *, action_synsets: Mapping[str, Sequence[str]], max_distance: int = DEFAULT_MAX_DISTANCE
) -> dict[str, list[tuple[str, int]]]:
    """``related_actions`` for every action of the vocabulary at once.

    One breadth-first search per action over the memoised synset graph, reading off the
    actions whose synsets it reaches (not one path search per pair of actions).

    Returns:
        ``{action: [(related action, distance), ...]}`` for every key of ``action_synsets``.
    """
    _check_distance(max_distance)
    index = _synset_index(action_synsets)
    return {
        action: _bfs_actions(source=action, starts=synsets, index=index, max_distance=max_distance)
        for action, synsets in action_synsets.items()
    }


def _check_distance(max_distance: int) -> None:
    if max_distance < 0:
        raise ValueError(NEGATIVE_DISTANCE.format(max_distance=max_distance))


def _synset_index(action_synsets: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Synset id -> the actions mapped to it; every id is checked against WordNet."""
    from nltk.corpus.reader.wordnet import WordNetError

    wordnet = wordnet_reader()
    index: dict[str, list[str]] = {}
    for action, synsets in action_synsets.items():
        for synset in synsets:
            if synset not in index:
                try:
                    wordnet.synset(synset)
                except (WordNetError, ValueError, AttributeError):
                    raise ValueError(UNKNOWN_SYNSET.format(synset=synset, action=action)) from None
                index[synset] = []
            index[synset].append(action)
    return index


def _bfs_actions(
    *, source: str, starts: Iterable[str], index: Mapping[str, list[str]], max_distance: int
) -> list[tuple[str, int]]:
    found: dict[str, int] = {}
    seen = set(starts)
    frontier = deque((synset, 0) for synset in seen)
    while frontier:
        synset, distance = frontier.popleft()
        for action in index.get(synset, ()):
            found.setdefault(action, distance)
        if distance < max_distance:
            for neighbour in synset_neighbours(synset):
                if neighbour not in seen:
                    seen.add(neighbour)
                    frontier.append((neighbour, distance + 1))
    found.pop(source, None)
    return sorted(found.items(), key=lambda item: (item[1], item[0]))


@functools.cache
def synset_neighbours(synset_id: str) -> tuple[str, ...]:
    """The synsets one edge away from ``synset_id`` in the relation graph (memoised).

    Edges, all taken as undirected:

    - hypernym/hyponym: ``sprint`` and ``jog`` are kinds of ``run``;
    - entailment and cause: ``snore`` entails ``sleep``;
    - also-see and verb group: WordNet's own links between close senses;
    - derivational bridge: two verbs whose lemmas derive the same noun synset
      (``run.v.01`` and ``race.v.02`` both give ``footrace.n.01``). Taken as one edge,
      since the noun names the same activity; linking verbs that merely share a lemma
      string is deliberately left out, as that is exactly the polysemy the sense
      choice is there to avoid (``run`` would join its 41 senses).

    Nouns are not nodes of their own: a path through the noun hierarchy (``jogging`` is
    a kind of ``running`` is a kind of ``sport``) reaches most of the vocabulary in a few
    steps and would make d meaningless.
    """
    wordnet = wordnet_reader()
    synset = wordnet.synset(synset_id)
    related: list[Synset] = [
        *synset.hypernyms(),
        *synset.hyponyms(),
        *synset.entailments(),
        *synset.causes(),
        *synset.also_sees(),
        *synset.verb_groups(),
    ]
    if synset.pos() == wordnet.VERB:
        related.extend(_derivational_bridges(synset, wordnet=wordnet))
    names = dict.fromkeys(other.name() for other in related)
    names.update(dict.fromkeys(_reverse_links()[synset_id]))
    names.pop(synset_id, None)
    return tuple(names)


def _derivational_bridges(synset: Synset, *, wordnet: WordNetCorpusReader) -> list[Synset]:
    bridges = []
    for lemma in synset.lemmas():
        for noun_lemma in lemma.derivationally_related_forms():
            noun = noun_lemma.synset()
            if noun.pos() != wordnet.NOUN:
                continue
            for other in noun.lemmas():
                bridges.extend(
                    verb.synset() for verb in other.derivationally_related_forms() if verb.synset().pos() == wordnet.VERB
                )
    return bridges


@functools.cache
def _reverse_links() -> dict[str, tuple[str, ...]]:
    """Targets of the one-way verb links (entailment, cause, also-see) -> their sources.

    WordNet stores entailments and causes in one direction only (``snore`` -> ``sleep``);
    the graph is undirected, so ``sleep`` must find ``snore`` too. Hypernyms, verb
    groups and derivational links are stored both ways already.
    """
    wordnet = wordnet_reader()
    reverse: dict[str, list[str]] = {}
    for synset in wordnet.all_synsets(wordnet.VERB):
        for target in (*synset.entailments(), *synset.causes(), *synset.also_sees()):
            reverse.setdefault(target.name(), []).append(synset.name())
    return _DefaultTuples({key: tuple(values) for key, values in reverse.items()})


class _DefaultTuples(dict[str, tuple[str, ...]]):
    def __missing__(self, key: str) -> tuple[str, ...]:
        return ()
