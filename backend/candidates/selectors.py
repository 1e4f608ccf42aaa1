"""Reads of candidate generation: harvest rates, rounds, relations, sources.

The harvest rate of the paper is the share of Yes consensus among the decided proposals
(positive / (positive + negative + ambiguous)). It is counted from the labels, in one grouped
query, because the crowd keeps deciding a round's questions after it ends: by a round itself
every time, by pages through the ``harvest`` summary (live while the dataset is small).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from backend.candidates.models import CandidateRound, CandidateSource, ModelProposal, Relation, Source
from backend.common.errors import DomainError, NotFound
from backend.common.summaries import summary_kind, summary_read
from backend.labels.models import Label
from backend.videos.models import Dataset

CANDIDATE_SOURCES: tuple[str, ...] = tuple(Source.values)
DECIDED_STATES = (Label.State.POSITIVE, Label.State.NEGATIVE, Label.State.AMBIGUOUS)

UNKNOWN_ROUND = "Dataset {dataset!r} has no candidate round {number}."
UNKNOWN_FILTER = "Unknown {what} {value!r}: expected one of {choices}."
BAD_NUMBER_FILTER = "{what} must be a whole number of 1 or more, got {value!r}."


@dataclass
class Tally:
    """Proposals asked, decided and answered Yes by consensus."""

    asked: int = 0
    decided: int = 0
    yes: int = 0

    @property
    def rate(self) -> float | None:
        return self.yes / self.decided if self.decided else None

    def judged(self, fraction: float) -> bool:
        """Enough of the group is decided for its harvest to count."""
        return self.decided > 0 and self.decided >= fraction * self.asked

    def add(self, other: Tally) -> None:
        self.asked += other.asked
        self.decided += other.decided
        self.yes += other.yes

    def as_dict(self) -> dict:
        return {"asked": self.asked, "decided": self.decided, "yes": self.yes, "rate": self.rate}


@dataclass(frozen=True)
class HarvestGroup:
    source: str
    relation_id: int | None
    round: int
    tally: Tally


def _harvest_rows(dataset_id: int, round_number: int | None = None) -> list[list]:
    """``[source, relation id, round, asked, decided, yes]`` of every group, in one grouped query."""
    labels = Label.objects.filter(dataset_id=dataset_id, source__in=CANDIDATE_SOURCES).exclude(
        state=Label.State.MERGED)
    if round_number is not None:
        labels = labels.filter(round=round_number)
    rows = (
        labels.values("source", "relation_id", "round")
        .annotate(
            asked=Count("id"),
            decided=Count("id", filter=Q(state__in=DECIDED_STATES)),
            yes=Count("id", filter=Q(state=Label.State.POSITIVE)),
        )
        .order_by()
    )
    return [[r["source"], r["relation_id"], r["round"], r["asked"], r["decided"], r["yes"]] for r in rows]


@summary_kind("harvest")
def harvest_count(dataset_id: int) -> tuple[dict, int]:
    """The harvest groups as a summary: pages and the API read it, live while the dataset is small
    and from the summaries job once it is large; rounds read the labels themselves (``fresh``)."""
    rows = _harvest_rows(dataset_id)
    return {"groups": rows}, sum(r[3] for r in rows)


def harvest_groups(*, dataset: Dataset, round_number: int | None = None, fresh: bool = False) -> list[HarvestGroup]:
    """Tallies of every (source, relation, round) of the dataset's proposals: counted now when
    ``fresh`` (a round deciding which sources stop), else from the harvest summary."""
    if fresh:
        rows = _harvest_rows(dataset.pk, round_number)
    else:
        rows = [r for r in summary_read("harvest", dataset.pk).data["groups"]
                if round_number is None or r[2] == round_number]
    return [
        HarvestGroup(source=source, relation_id=relation_id, round=number,
                     tally=Tally(asked=asked, decided=decided, yes=yes))
        for source, relation_id, number, asked, decided, yes in rows
    ]


def harvest_by_source(*, dataset: Dataset) -> dict[str, dict]:
    """``{source: {"asked", "decided", "yes", "rate"}}`` over every round, each source present."""
    totals = {source: Tally() for source in CANDIDATE_SOURCES}
    for group in harvest_groups(dataset=dataset):
        totals[group.source].add(group.tally)
    return {source: tally.as_dict() for source, tally in totals.items()}


def harvest_by_round(*, dataset: Dataset, round_number: int | None = None) -> dict[int, dict[str, dict]]:
    """``{round: {source: tally dict}}`` for the rounds (or the one round) that proposed something."""
    totals: dict[int, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for group in harvest_groups(dataset=dataset, round_number=round_number):
        totals[group.round][group.source].add(group.tally)
    return {number: {s: t.as_dict() for s, t in sources.items()} for number, sources in totals.items()}


def harvest_by_relation(*, dataset: Dataset, round_number: int | None = None,
                        groups: list[HarvestGroup] | None = None) -> dict[int, dict]:
    """``{relation id: tally dict}``, over one round or all of them (from ``groups`` when the
    caller already read them)."""
    totals: dict[int, Tally] = defaultdict(Tally)
    for group in groups if groups is not None else harvest_groups(dataset=dataset, round_number=round_number):
        if group.relation_id is not None:
            totals[group.relation_id].add(group.tally)
    return {relation: tally.as_dict() for relation, tally in totals.items()}


def round_list(*, dataset: Dataset) -> QuerySet[CandidateRound]:
    return CandidateRound.objects.filter(dataset=dataset).select_related("job").order_by("-number")


def round_get(*, dataset: Dataset, number: int) -> CandidateRound:
    found = round_list(dataset=dataset).filter(number=number).first()
    if found is None:
        raise NotFound(UNKNOWN_ROUND.format(dataset=dataset.name, number=number), field="round")
    return found


def relation_list(*, dataset: Dataset, state: str | None = None, source: str | None = None) -> QuerySet[Relation]:
    qs = Relation.objects.filter(dataset=dataset).select_related("from_action", "to_action")
    if state:
        if state not in Relation.State.values:
            raise DomainError(UNKNOWN_FILTER.format(what="state", value=state, choices=Relation.State.values))
        qs = qs.filter(state=state)
    if source:
        if source not in CANDIDATE_SOURCES:
            raise DomainError(UNKNOWN_FILTER.format(what="source", value=source, choices=list(CANDIDATE_SOURCES)))
        qs = qs.filter(source=source)
    return qs.order_by("source", "from_action__name", "to_action__name")


def source_list(*, dataset: Dataset) -> QuerySet[CandidateSource]:
    return CandidateSource.objects.filter(dataset=dataset).order_by("source")


def source_get(*, dataset: Dataset, source: str) -> CandidateSource:
    """A source's row; before the dataset's first round, an unsaved one with the defaults."""
    if source not in CANDIDATE_SOURCES:
        raise NotFound(UNKNOWN_FILTER.format(what="source", value=source, choices=list(CANDIDATE_SOURCES)),
                       field="source")
    return CandidateSource.objects.filter(dataset=dataset, source=source).first() or CandidateSource(
        dataset=dataset, source=source)


def harvest_series(*, dataset: Dataset, relations: int = 8, groups: list[HarvestGroup] | None = None) -> dict:
    """Harvest rate per round, for charts: one series per source, and one per relation for the
    ``relations`` relations that asked most (the others are in the relations table).

    Returns ``{"sources": {source: [{x: round, y: rate}]}, "relations": {"a -> b (source)":
    [...]}}``; a round whose proposals are not decided yet has no point.
    """
    by_source: dict[str, dict[int, Tally]] = defaultdict(lambda: defaultdict(Tally))
    by_relation: dict[int, dict[int, Tally]] = defaultdict(lambda: defaultdict(Tally))
    asked: dict[int, int] = defaultdict(int)
    for group in groups if groups is not None else harvest_groups(dataset=dataset):
        by_source[group.source][group.round].add(group.tally)
        if group.relation_id is not None:
            by_relation[group.relation_id][group.round].add(group.tally)
            asked[group.relation_id] += group.tally.asked

    def points(rounds: dict[int, Tally]) -> list[dict]:
        return [{"x": number, "y": round(t.rate, 3)} for number, t in sorted(rounds.items()) if t.rate is not None]

    top = sorted(asked, key=lambda pk: (-asked[pk], pk))[:relations]
    names = {r.pk: f"{r.from_action.name} -> {r.to_action.name} ({r.source})"
             for r in relation_list(dataset=dataset).filter(pk__in=top)}
    return {
        "sources": {source: points(by_source[source]) for source in CANDIDATE_SOURCES if source in by_source},
        "relations": {names[pk]: points(by_relation[pk]) for pk in top if pk in names},
    }


def model_proposal_list(*, dataset: Dataset, round_number: str | int | None = None, run: str | int | None = None,
                        rank: str | int | None = None) -> QuerySet[ModelProposal]:
    """The model source's candidates of the dataset with their rank and run, in label order;
    filtered by round, run (``PredictionSet`` id) and rank when given (query strings accepted)."""
    qs = ModelProposal.objects.filter(label__dataset=dataset).select_related(
        "label__action", "video", "prediction_set")
    for what, field, value in (("round", "label__round", round_number), ("run", "prediction_set_id", run),
                               ("rank", "rank", rank)):
        if value is None or value == "":
            continue
        number = _whole_number(value)
        if number is None:
            raise DomainError(BAD_NUMBER_FILTER.format(what=what, value=value), field=what)
        qs = qs.filter(**{field: number})
    return qs.order_by("label_id")


def _whole_number(value: str | int) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    # Beyond a 64-bit id nothing can match, and the database would refuse the parameter.
    return number if 1 <= number < 1 << 62 else None
