"""Where the vocabulary gets WordNet glosses from: a small registry the app that reads WordNet
(``candidates``, a floor above) fills in its ``ready()``, so the vocabulary's services can write
default definitions without importing the lexicon.

A provider takes synset ids and returns ``{synset id: gloss}`` for the ids WordNet knows (unknown
ids left out); it raises ``DomainError`` when WordNet cannot be read.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from backend.common.errors import DomainError

GlossProvider = Callable[[Sequence[str]], dict[str, str]]

NO_GLOSS_PROVIDER = "No WordNet gloss provider is registered (the candidates app is not installed)."

_provider: GlossProvider | None = None


def gloss_provider_set(provider: GlossProvider | None) -> None:
    global _provider
    _provider = provider


def glosses(synset_ids: Sequence[str]) -> dict[str, str]:
    """``{synset id: gloss}`` for the ids WordNet knows.

    Raises:
        DomainError: ``NO_GLOSS_PROVIDER``, or the provider's own (WordNet missing).
    """
    if _provider is None:
        raise DomainError(NO_GLOSS_PROVIDER)
    return _provider(list(synset_ids)) if synset_ids else {}
