"""The WordNet senses of a dataset's actions: guessed automatically, corrected by curators."""
from __future__ import annotations

from backend.candidates.neighbours import guessed_synsets
from backend.videos.models import Dataset
from backend.vocabulary.models import Action


def action_synsets_guess(*, dataset: Dataset) -> dict[str, list[str]]:
    """Store the automatic synset guess of every active action that has none, and return all.

    A curated list (``synsets_curated``, set by the vocabulary API) is never overwritten, nor
    is an earlier guess a curator may have looked at; only empty lists are filled. Actions
    WordNet has no verb for keep an empty list and are simply not part of WordNet relations.

    Returns:
        ``{action name: synset ids}`` for every active action (empty lists included).
    """
    actions = list(Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE).order_by("name"))
    missing = [action for action in actions if not action.synsets and not action.synsets_curated]
    if missing:
        guesses = guessed_synsets([action.name for action in missing])
        changed = []
        for action in missing:
            if guesses[action.name]:
                action.synsets = guesses[action.name]
                changed.append(action)
        # Only `synsets`: `updated_at` stays the curators' edit time.
        Action.objects.bulk_update(changed, ["synsets"])
    return {action.name: list(action.synsets) for action in actions}
