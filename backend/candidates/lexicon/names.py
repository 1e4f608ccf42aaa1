"""Action names as the lexical sources read them.

Vocabulary names look like ``running``, ``ascending/rising`` (a merged class whose
alternatives all name the action) and ``adult+female+speaking`` (several words, one
action). Both lexical sources split a name the same way; WordNet additionally needs
the verb lemma behind each ``-ing`` form (``running`` -> ``run``).

Nothing here imports Django or loads WordNet: the WordNet reader is passed in, so the
parsing rules can be tested without any data.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only, nltk is imported by the caller
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

ALTERNATIVE_SEPARATOR = "/"
WORD_SEPARATOR = "+"

EMPTY_ACTION_NAME = (
    "Action name {name!r} has no words: expected words joined by '+' (one action) "
    "or '/' (merged alternatives), e.g. 'ice+skating' or 'ascending/rising'."
)

# `+` is the vocabulary files' word separator; spaces and `_` show up in hand-typed
# names ("ice skating") and in WordNet-style collocations ("ice_skating").
_WORD_SPLIT = re.compile(r"[+\s_]+")
_VOWELS = frozenset("aeiou")
_UNSTRESSED_PREFIXES = ("under", "over", "out", "un", "re", "up")


def parse_action_name(name: str) -> tuple[tuple[str, ...], ...]:
    """Split an action name into its alternatives, each a tuple of lowercase words.

    Args:
        name: a vocabulary name such as ``running``, ``ascending/rising`` or
            ``adult+female+speaking``.

    Returns:
        ``(("running",),)``, ``(("ascending",), ("rising",))``,
        ``(("adult", "female", "speaking"),)``. Empty pieces (``a//b``) are dropped.

    Raises:
        ValueError: ``EMPTY_ACTION_NAME`` when no word is left.
    """
    alternatives = []
    for piece in name.lower().split(ALTERNATIVE_SEPARATOR):
        words = tuple(word for word in _WORD_SPLIT.split(piece.strip()) if word)
        if words and words not in alternatives:
            alternatives.append(words)
    if not alternatives:
        raise ValueError(EMPTY_ACTION_NAME.format(name=name))
    return tuple(alternatives)


def action_words(name: str) -> list[str]:
    """All distinct words of an action name, in order (``buying/selling/shopping`` -> 3 words)."""
    seen: dict[str, None] = {}
    for alternative in parse_action_name(name):
        seen.update(dict.fromkeys(alternative))
    return list(seen)


def ing_form(lemma: str) -> str:
    """The ``-ing`` form English spelling gives a verb lemma (``run`` -> ``running``).

    Only used to decide between the lemmas morphy offers for an ``-ing`` word
    (``dining`` could be ``dine`` or ``din``; only ``dine`` spells ``dining``), so the
    rules cover the regular cases, not every exception (``begin`` -> ``beginning``).
    """
    if lemma.endswith("ie"):
        return lemma[:-2] + "ying"  # die, lie, tie
    if lemma.endswith(("ee", "ye", "oe")):
        return lemma + "ing"  # see, dye, hoe keep their e
    if lemma.endswith("e") and len(lemma) > 2:
        return lemma[:-1] + "ing"
    if _doubles_final_consonant(lemma):
        return lemma + lemma[-1] + "ing"
    return lemma + "ing"


def _doubles_final_consonant(lemma: str) -> bool:
    # A stressed final syllable ending consonant-vowel-consonant doubles its consonant
    # (run, clap, jog, din, squat, unplug); w, x and y never double (snow, wax, play).
    # Stress is guessed: one syllable, possibly after a stressless prefix.
    word = lemma.replace("qu", "q")  # the u of "qu" is not a vowel (squat -> squatting)
    if len(word) < 3 or word[-1] in _VOWELS or word[-1] in "wxy":
        return False
    if word[-2] not in _VOWELS or word[-3] in _VOWELS:
        return False
    for prefix in _UNSTRESSED_PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix) + 2:
            word = word[len(prefix) :]
            break
    return len(re.findall(r"[aeiou]+", word)) == 1


def ing_lemma_candidates(word: str) -> list[str]:
    """Possible lemmas of an ``-ing`` word by spelling alone, most plausible first.

    No dictionary is consulted (the vectors source uses this as a fallback for words
    its vocabulary lacks), so some guesses are not words (``running`` -> ``run``,
    ``runne``, ``runn``): the caller keeps the first one its dictionary knows. Guesses
    that spell the word back (``dining`` -> ``dine`` before ``din``) come first; non
    ``-ing`` words give ``[]``.
    """
    if not word.endswith("ing") or len(word) <= 4:
        return []
    stem = word[:-3]
    candidates: list[str] = []
    if stem.endswith("y") and len(stem) > 1 and stem[-2] not in _VOWELS and ing_form(stem[:-1] + "ie") == word:
        candidates.append(stem[:-1] + "ie")  # dying -> die
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS:
        candidates.append(stem[:-1])  # running -> run
    candidates.extend([stem + "e", stem])
    # Keep the guesses whose regular -ing spelling gives the word back first.
    return sorted(dict.fromkeys(candidates), key=lambda lemma: ing_form(lemma) != word)


def verb_lemma(word: str, *, wordnet: WordNetCorpusReader) -> str | None:
    """The WordNet verb lemma of an ``-ing`` word (``bicycling`` -> ``bicycle``), or None.

    morphy can offer several lemmas (``dining`` -> ``dine``, ``din``; ``taping`` ->
    ``tape``, ``tap``); the one whose regular ``-ing`` spelling is the word wins, then
    the more frequent one in the tagged corpus behind WordNet's sense counts.
    """
    if not word.endswith("ing"):
        return None
    candidates = wordnet._morphy(word, wordnet.VERB)  # all forms, not just the first
    if not candidates:
        return None

    def rank(lemma: str) -> tuple[bool, int]:
        frequency = sum(
            item.count()
            for synset in wordnet.synsets(lemma, pos=wordnet.VERB)
            for item in synset.lemmas()
            if item.name() == lemma
        )
        return (ing_form(lemma) != word, -frequency)

    return min(dict.fromkeys(candidates), key=rank)


@dataclass(frozen=True)
class WordNetTerm:
    """What to look up in WordNet for one alternative of an action name.

    Attributes:
        lemma: a verb lemma or collocation (``run``, ``ice_skate``, ``speak``).
        context: the alternative's other words (``adult``, ``female``; ``videogames``),
            used to choose among the lemma's senses, not looked up themselves.
    """

    lemma: str
    context: tuple[str, ...]


def wordnet_term(words: Sequence[str], *, wordnet: WordNetCorpusReader) -> WordNetTerm | None:
    """The verb to look up for one alternative's words, or None when WordNet has none.

    ``ice+skating`` becomes the collocation ``ice_skate`` because WordNet lists it as
    a verb; otherwise the first ``-ing`` word with a verb lemma is the head
    (``playing+music`` -> ``play`` with context ``music``; ``child+singing`` -> ``sing``).
    """
    lemmas = [verb_lemma(word, wordnet=wordnet) for word in words]
    if len(words) > 1:
        collocation = "_".join(lemma or word for lemma, word in zip(lemmas, words))
        if any(lemmas) and wordnet.synsets(collocation, pos=wordnet.VERB):
            return WordNetTerm(lemma=collocation, context=())
    for index, lemma in enumerate(lemmas):
        if lemma is not None:
            context = tuple(word for i, word in enumerate(words) if i != index)
            return WordNetTerm(lemma=lemma, context=context)
    return None
