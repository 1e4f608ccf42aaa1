"""The graded-set engine's own pieces, whatever the kind: gold picking, covering a set's items,
the kinds the apps register, and the typed reference providers get."""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import pytest

from backend.common.errors import DomainError
from backend.crowd.sets import assign
from backend.crowd.sets.kinds import CoverMessages, answers_by_item, kind_named, kinds

COVER = CoverMessages(duplicate="twice", unknown="{n} unknown", missing="{n} missing")


@dataclass
class Gold:
    pk: int
    truth: bool
    seen: int = 0


@pytest.mark.parametrize("first_truth", [True, False])
def test_gold_alternates_truths_and_prefers_what_the_worker_has_seen_least(monkeypatch, first_truth):
    monkeypatch.setattr(assign, "_random", random.Random(0))
    pool = [Gold(1, True, seen=2), Gold(2, True), Gold(3, False), Gold(4, False, seen=5), Gold(5, True)]
    chosen = assign.gold_pick(pool=pool, n=4, first_truth=first_truth)
    assert [g.truth for g in chosen] == [first_truth, not first_truth, first_truth, not first_truth]
    assert {g.pk for g in chosen[:2]} <= {2, 3, 5}  # unseen ones first on each side
    assert assign.gold_pick(pool=pool, n=0, first_truth=True) == []
    # one side only: it fills the set all the same
    assert len(assign.gold_pick(pool=[Gold(1, True), Gold(2, True)], n=2, first_truth=False)) == 2


def test_a_submission_covers_the_items_exactly_once():
    items = [uuid.uuid4() for _ in range(3)]
    entries = [{"item": i, "answer": True} for i in items]
    assert set(answers_by_item(entries, items, COVER)) == set(items)
    with pytest.raises(DomainError, match="^twice$"):
        answers_by_item(entries + entries[:1], items, COVER)
    with pytest.raises(DomainError, match="^1 unknown$"):
        answers_by_item(entries + [{"item": uuid.uuid4()}], items, COVER)
    with pytest.raises(DomainError, match="^2 missing$"):
        answers_by_item(entries[:1], items, COVER)


def test_both_kinds_are_registered_with_their_models():
    from backend.annotation.models import TaskSet
    from backend.regions.models import DrawingSet

    assert {k.name for k in kinds()} == {"yesno", "drawing"}
    assert kind_named("yesno").set_model is TaskSet and kind_named("drawing").set_model is DrawingSet
    with pytest.raises(LookupError):
        kind_named("tarot")


@pytest.mark.django_db
def test_a_set_reference_names_its_kind(engine, make_worker):
    from backend.annotation.models import TaskSet

    payload = make_worker("alice").assign().json()["set"]
    record = TaskSet.objects.get(public_id=payload["id"])
    ref = kind_named("yesno").ref(record)
    assert (ref.kind, ref.pk, str(ref.public_id), ref.worker_id, ref.status) == (
        "yesno", record.pk, payload["id"], record.worker_id, "open")
