"""Reads of the vocabulary."""
from __future__ import annotations

from django.db.models import QuerySet

from backend.common.errors import NotFound
from backend.videos.models import Dataset
from backend.vocabulary.models import Action, VocabularyEvent

UNKNOWN_ACTION = "Dataset {dataset!r} has no action named {name!r}."


def action_list(*, dataset: Dataset, status: str | None = Action.Status.ACTIVE) -> QuerySet[Action]:
    qs = Action.objects.filter(dataset=dataset).select_related("merged_into")
    return qs.filter(status=status) if status else qs


def action_get(*, dataset: Dataset, name: str) -> Action:
    action = Action.objects.filter(dataset=dataset, name=name).select_related("merged_into").first()
    if action is None:
        raise NotFound(UNKNOWN_ACTION.format(dataset=dataset.name, name=name), field="action")
    return action


def action_resolve(action: Action) -> Action:
    """Follow `merged_into` to the class an archived action now belongs to."""
    seen = set()
    while action.merged_into_id and action.id not in seen:
        seen.add(action.id)
        action = action.merged_into
    return action


def action_lookup(*, dataset: Dataset) -> dict[str, Action]:
    """Name -> the active action it means (merged names resolve to their target).

    Removed actions are absent, so a label naming one is reported as unknown.
    """
    actions = {a.id: a for a in Action.objects.filter(dataset=dataset)}
    lookup: dict[str, Action] = {}
    for a in actions.values():
        current = a
        hops = 0
        while current.merged_into_id and hops < 32:
            current = actions[current.merged_into_id]
            hops += 1
        if current.status == Action.Status.ACTIVE:
            lookup[a.name] = current
    return lookup


def vocabulary_events(*, dataset: Dataset) -> QuerySet[VocabularyEvent]:
    return VocabularyEvent.objects.filter(dataset=dataset).select_related("action", "target", "actor")
