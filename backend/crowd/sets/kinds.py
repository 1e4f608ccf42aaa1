"""What a kind of graded set supplies to the engine, the typed reference to a set, and the registry."""
from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import models

from backend.common.errors import DomainError
from backend.common.statements import Fragment
from backend.crowd.models import Worker

OPEN, ACCEPTED, FAILED, EXPIRED, CANCELLED = "open", "accepted", "failed", "expired", "cancelled"
CLOSED = (ACCEPTED, FAILED)  # a set that was graded to its end
UNKNOWN_KIND = "Unknown kind of set {name!r}."


@dataclass(frozen=True)
class SetMessages:
    """What a worker is told, in the words of the kind's task."""

    not_found: str
    not_yours: str
    expired: str
    closed: str
    cancelled: str
    review: str
    accepted: str


@dataclass(frozen=True)
class SetRef:
    """A typed reference to one graded set, whatever its kind: what providers are handed."""

    kind: str
    pk: int
    public_id: uuid.UUID
    worker_id: int
    status: str
    provider_ref: dict = field(default_factory=dict)


@dataclass
class LockedSet:
    """A set as a submission reads it: its row, locked until the transaction ends; the outcome
    recorded for an earlier request with the same submission id (``(accepted, response)``), if
    any; and whatever else the kind read with it (its items, with their gold) for grading."""

    record: models.Model
    previous: tuple[bool, dict] | None
    items: Any


@dataclass
class Graded:
    """The gold of one submission: how many gold items, how many missed, and the rows that
    record each gold answer (statements for ``execute_batch``)."""

    gold_total: int
    missed: int
    writes: list[Fragment | None]


@dataclass
class Accepted:
    """What an accepted set writes (statements), and what runs after they are written."""

    writes: list[Fragment | list[Fragment] | None]
    then: Callable[[], None] | None = None


@dataclass(frozen=True)
class CoverMessages:
    """What a worker is told when a submission does not cover the set's items exactly once."""

    duplicate: str
    unknown: str  # {n}: how many
    missing: str  # {n}: how many


def answers_by_item(answers: Sequence[dict], items: Sequence[uuid.UUID], messages: CoverMessages) -> dict:
    """The entries of a submission by item (``entry["item"]``), when they answer every one of
    ``items`` exactly once; otherwise a DomainError saying what is wrong (nothing is stored)."""
    by_item: dict[uuid.UUID, dict] = {}
    for entry in answers:
        if entry["item"] in by_item:
            raise DomainError(messages.duplicate)
        by_item[entry["item"]] = entry
    known = set(items)
    unknown = set(by_item) - known
    if unknown:
        raise DomainError(messages.unknown.format(n=len(unknown)))
    missing = known - set(by_item)
    if missing:
        raise DomainError(messages.missing.format(n=len(missing)))
    return by_item


class SetKind(ABC):
    """One kind of graded set. Subclasses name their models and fields and implement the hooks.

    The set model has the fields ``public_id, dataset, worker, action, status, attempts,
    max_attempts, provider_ref, created_at, expires_at, closed_at``; the attempt model
    ``number, submission_id, accepted, gold_total, payload, response`` and the set's foreign key;
    a work unit has ``in_flight`` (open sets holding it).
    """

    name: ClassVar[str]
    set_model: ClassVar[type[models.Model]]
    item_model: ClassVar[type[models.Model]]
    attempt_model: ClassVar[type[models.Model]]
    unit_model: ClassVar[type[models.Model]]
    item_set_field: ClassVar[str]  # the item's foreign key to its set
    item_unit_field: ClassVar[str]  # the item's foreign key to its work unit (null on gold items)
    attempt_set_field: ClassVar[str]  # the attempt's foreign key to its set
    attempt_missed_field: ClassVar[str]  # the attempt's count of missed gold
    unit_order: ClassVar[tuple[str, ...]]  # which open units a set takes first (an index should serve it)
    gold_first_truth: ClassVar[bool]  # the truth of the first gold item of a set
    messages: ClassVar[SetMessages]

    # -- assignment -------------------------------------------------------------------------------
    def queue(self, spec: dict) -> dict:
        """Fields of the set that say which queue it came from (the Yes/No prompt); a worker's
        open set is resumed, and their last action kept, within the same queue."""
        return {}

    @abstractmethod
    def set_size(self, dataset) -> int:
        """Items per set, gold included."""

    @abstractmethod
    def sets_closed(self, worker: Worker) -> int:
        """How many of this kind's sets the worker has finished (for probation)."""

    @abstractmethod
    def available(self, *, dataset, worker: Worker, spec: dict) -> models.QuerySet:
        """Open work units of the queue that still need work and this worker has never had."""

    @abstractmethod
    def gold_pool(self, *, dataset, worker: Worker, action_id: int, spec: dict) -> list:
        """Active gold of the action (objects with ``pk``, ``truth`` and ``seen``, how often this
        worker has answered it)."""

    @abstractmethod
    def items_create(self, *, record, entries: Sequence[tuple[int | None, Any]]) -> None:
        """Create the set's items, in order: ``(unit id, None)`` or ``(None, gold)``."""

    def reserved(self, *, worker: Worker, unit_ids: Sequence[int]) -> None:
        """Called with the units a new set reserved (the Yes/No kind records them as shown)."""

    @abstractmethod
    def work_missing(self, *, dataset, spec: dict) -> int:
        """Work still to hand out on the queue's open units (answers, drawings), not counting
        what open sets hold: what a crowd provider would be paid for."""

    @abstractmethod
    def work_complete(self, *, dataset_id: int, spec: dict) -> bool:
        """True when no open unit of the queue still needs work (a provider's HITs can expire)."""

    # -- submission -------------------------------------------------------------------------------
    @abstractmethod
    def lock(self, *, set_id: uuid.UUID, submission_id: uuid.UUID) -> LockedSet | None:
        """The set with this public id, locked, with what grading needs; None when there is none."""

    @abstractmethod
    def parse(self, locked: LockedSet, answers: list[dict]) -> Any:
        """Check that the submission covers exactly the set's items; a DomainError otherwise."""

    @abstractmethod
    def grade(self, locked: LockedSet, parsed: Any, *, worker: Worker, now) -> Graded:
        """Grade the gold items."""

    @abstractmethod
    def max_missed(self) -> int:
        """Missed gold items an attempt may have and still be accepted."""

    @abstractmethod
    def attempt_payload(self, locked: LockedSet, parsed: Any) -> dict:
        """What was sent, as the attempt log keeps it."""

    @abstractmethod
    def accept(self, locked: LockedSet, parsed: Any, *, worker: Worker, now) -> Accepted:
        """Record an accepted set's work on its units."""

    def tallies(self, locked: LockedSet, parsed: Any, *, accepted: bool, failed: bool) -> dict[str, int]:
        """Worker counters this kind keeps besides the gold ones (added to the same update)."""
        return {}

    # -- references -------------------------------------------------------------------------------
    def ref(self, record) -> SetRef:
        return SetRef(kind=self.name, pk=record.pk, public_id=record.public_id, worker_id=record.worker_id,
                      status=record.status, provider_ref=dict(record.provider_ref or {}))


_KINDS: dict[str, SetKind] = {}


def kind_register(kind: SetKind) -> SetKind:
    """Make a kind known to the apps that find sets by reference (from its app's ``ready()``)."""
    _KINDS[kind.name] = kind
    return kind


def kind_named(name: str) -> SetKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(UNKNOWN_KIND.format(name=name)) from None


def kinds() -> list[SetKind]:
    return list(_KINDS.values())
