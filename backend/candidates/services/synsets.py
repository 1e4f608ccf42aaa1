"""The WordNet senses of a dataset's actions: guessed automatically, corrected by curators."""
from __future__ import annotations

from backend.candidates.neighbours import guessed_synsets
from backend.videos.models import Dataset
from backend.vocabulary.models import Action
from backend.vocabulary.services import action_definitions_fill


def action_synsets_guess(*, dataset: Dataset) -> dict[str, list[str]]:
    """Store the automatic synset guess of every active action that has none, and return all.

    Actions that get a guess and have no definition get one from WordNet (marked generated).
    A curated list (``synsets_curated``, set by the vocabulary API) is never overwritten, nor
    is an earlier guess a curator may have looked at; only empty lists are filled. Actions
    WordNet has no verb for keep an empty list and are simply not part of WordNet relations.

    Returns:
        ``{action name: synset ids}`` for every active action (empty lists included).
    """
    return _synsets_guess(dataset)[0]


def _synsets_guess(dataset: Dataset) -> tuple[dict[str, list[str]], list[str]]:
    """``action_synsets_guess``'s result, and the names of the actions given a definition."""
    actions = list(Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE).order_by("name"))
    missing = [action for action in actions if not action.synsets and not action.synsets_curated]
    defined: list[str] = []
    if missing:
        guesses = guessed_synsets([action.name for action in missing])
        changed = []
        for action in missing:
            if guesses[action.name]:
                action.synsets = guesses[action.name]
                changed.append(action)
        # Only `synsets`: `updated_at` stays the curators' edit time.
        Action.objects.bulk_update(changed, ["synsets"])
        # The actions that had neither senses nor a definition get one from their best guess.
        defined = action_definitions_fill(actions=changed)
    return {action.name: list(action.synsets) for action in actions}, defined


def action_definitions_generate(*, dataset: Dataset, overwrite_generated: bool = False) -> list[str]:
    """Every active action without a definition (and, with ``overwrite_generated``, every generated
    one) gets the WordNet gloss of its synsets; actions without synsets are guessed first.

    Returns:
        The names of the actions whose definition changed, in name order.
    """
    defined = _synsets_guess(dataset)[1]
    return sorted({*defined, *action_definitions_fill(dataset=dataset, overwrite_generated=overwrite_generated)})
