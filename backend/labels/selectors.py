"""Reads of labels: the label browser's filtered selection (which bulk corrections act on too) and
the corrections history of labels."""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from backend.common.errors import DomainError
from backend.labels.models import Label, LabelCorrection
from backend.videos.models import Dataset
from backend.vocabulary.models import Action

# The vote splits the label browser filters on (``votes=``), besides an exact ``YES-NO`` count.
VOTE_SPLITS = {
    "split": Q(yes_count__gt=0, no_count__gt=0),  # the crowd disagreed (an index serves it)
    "unanimous": Q(yes_count__gt=0, no_count=0) | Q(yes_count=0, no_count__gt=0),
    "unanswered": Q(yes_count=0, no_count=0),
}
_EXACT_VOTES = re.compile(r"^(\d{1,4})-(\d{1,4})$")
BAD_VOTES = "votes must be split, unanimous, unanswered or yes-no counts such as 2-1, not {value!r}."


def _votes(value: str) -> Q:
    if value in VOTE_SPLITS:
        return VOTE_SPLITS[value]
    exact = _EXACT_VOTES.match(value)
    if exact is None:
        raise DomainError(BAD_VOTES.format(value=value), field="votes")
    return Q(yes_count=int(exact[1]), no_count=int(exact[2]))


def label_filter(*, dataset: Dataset, action: str = "", state: str = "", source: str = "",
                 confidence_min: float | None = None, confidence_max: float | None = None,
                 votes: str = "") -> QuerySet[Label]:
    """The dataset's labels with the label browser's filters (each one optional): the action's
    name, the state, the source, a confidence range (inclusive; labels without a confidence are
    outside every range) and the vote split (``VOTE_SPLITS`` or ``YES-NO``). Empty filters select
    every label.

    Raises:
        DomainError: ``BAD_VOTES``.
    """
    qs = Label.objects.filter(dataset=dataset)
    if action:
        # The action's id, not a join on its name: the planner then knows from its statistics how
        # many labels the action has, and reads a rare action's labels by index rather than
        # walking a whole sort order in search of them.
        action_id = Action.objects.filter(dataset=dataset, name=action).values_list("pk", flat=True).first()
        qs = qs.filter(action_id=action_id) if action_id is not None else qs.none()
    if state:
        qs = qs.filter(state=state)
    if source:
        qs = qs.filter(source=source)
    if confidence_min is not None:
        qs = qs.filter(confidence__gte=confidence_min)
    if confidence_max is not None:
        qs = qs.filter(confidence__lte=confidence_max)
    if votes:
        qs = qs.filter(_votes(votes))
    return qs


def label_get(*, dataset: Dataset, label_id: int) -> Label | None:
    return Label.objects.filter(dataset=dataset, pk=label_id).select_related("dataset", "video", "action").first()


def label_corrections(*, label_ids: Iterable[int]) -> dict[int, list[LabelCorrection]]:
    """Each label's corrections, oldest first (one query for a whole page of labels)."""
    history: dict[int, list[LabelCorrection]] = defaultdict(list)
    for correction in LabelCorrection.objects.filter(label_id__in=list(label_ids)).order_by("id"):
        history[correction.label_id].append(correction)
    return dict(history)
