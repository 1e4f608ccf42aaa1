"""The Yes/No submit path's set-based writes agree with the model of the same rules, and the
engine's own statements (worker counters, refusal history) with the policy."""
from __future__ import annotations

import itertools
import random

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone

from backend.annotation.models import Answer, GoldAnswer, Question
from backend.annotation.services import statements as record
from backend.annotation.services.consensus import Decision, MajorityVote
from backend.common.statements import execute_batch, int_array
from backend.crowd.models import Worker
from backend.crowd.sets.statements import worker_counters_add
from backend.labels.models import Label
from backend.videos.models import Video
from backend.vocabulary.models import Action

pytestmark = pytest.mark.django_db


def _questions(dataset, n: int, rng: random.Random) -> list[Question]:
    action = Action.objects.filter(dataset=dataset).first()
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/r/{i}.mp4", name=f"r{i}.mp4", storage_key=f"r/{i}.mp4", checksum=f"r{i}")
        for i in range(n)])
    labels = Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=action, asked_action=action, source="initial") for v in videos])
    rows = []
    for v, label in zip(videos, labels):
        needed = rng.choice([1, 3, 5])
        yes = rng.randint(0, needed)
        no = rng.randint(0, needed - yes) if rng.random() < 0.8 else needed - yes
        state = Question.State.OPEN if rng.random() < 0.9 else Question.State.DECIDED
        rows.append(Question(dataset=dataset, action=action, video=v, label=label, needed=needed, max_answers=9,
                             answers=yes + no, yes=yes, no=no, in_flight=1, state=state,
                             decision="positive" if state == Question.State.DECIDED else ""))
    return Question.objects.bulk_create(rows)


def test_count_and_decide_matches_the_majority_rule(dataset):
    rng = random.Random(3)
    questions = _questions(dataset, 120, rng)
    before = {q.pk: (q.answers, q.yes, q.no, q.state, q.decision) for q in questions}
    yes_ids = [q.pk for q in questions if rng.random() < 0.5]
    no_ids = [q.pk for q in questions if q.pk not in set(yes_ids)]
    now = timezone.now()
    execute_batch(record.questions_count_and_decide(yes_ids=yes_ids, no_ids=no_ids, now=now),
               record.labels_follow_decisions(question_ids=[q.pk for q in questions], now=now))
    after = {q.pk: q for q in Question.objects.filter(pk__in=before).select_related("label")}
    decided_now = 0
    for pk, (answers, yes, no, state, decision) in before.items():
        q = after[pk]
        said_yes = pk in set(yes_ids)
        assert (q.answers, q.yes, q.no, q.in_flight) == (answers + 1, yes + said_yes, no + (not said_yes), 0)
        if state != Question.State.OPEN:  # already decided: only the counts move
            assert (q.state, q.decision) == (state, decision)
            continue
        expected = MajorityVote().decide([Question(pk=pk, needed=q.needed, yes=q.yes, no=q.no)])[pk]
        if isinstance(expected, Decision):
            decided_now += 1
            assert (q.state, q.decision, q.decided_at) == (Question.State.DECIDED, expected.decision, now)
            assert q.confidence == pytest.approx(expected.confidence)
            assert (q.label.state, q.label.yes_count, q.label.no_count) == (expected.decision, q.yes, q.no)
            assert q.label.confidence == pytest.approx(expected.confidence)
        else:
            assert (q.state, q.decided_at) == (Question.State.OPEN, None)
            assert q.label.state == Label.State.PENDING
    assert decided_now > 20  # the sample exercised both branches


@pytest.mark.parametrize(("yes", "no"), [(0, 3), (3, 0), (0, 0)])
def test_counts_without_a_decision(dataset, yes, no):
    questions = _questions(dataset, 3, random.Random(yes * 10 + no))
    ids = [q.pk for q in questions]
    yes_ids, no_ids = ids[:yes], ids[yes:yes + no]
    execute_batch(record.questions_count(yes_ids=yes_ids, no_ids=no_ids))
    for q, old in zip(Question.objects.filter(pk__in=ids).order_by("pk"), questions):
        moved = q.pk in yes_ids or q.pk in no_ids
        assert (q.answers, q.yes, q.no) == (old.answers + moved, old.yes + (q.pk in yes_ids), old.no + (q.pk in no_ids))
        assert q.state == old.state  # another aggregator decides


def test_inserts_and_counters(dataset):
    questions = _questions(dataset, 4, random.Random(1))
    worker = Worker.objects.create(provider="inhouse", external_id="rec", answers_count=5)
    now = timezone.now()
    from backend.annotation.models import GoldQuestion, TaskSet

    dataset = questions[0].dataset
    gold = GoldQuestion.objects.create(dataset=dataset, action=questions[0].action, video=questions[0].video, truth=True)
    taskset = TaskSet.objects.create(dataset=dataset, worker=worker, action=questions[0].action, expires_at=now)
    execute_batch(
        record.answers_insert(worker_id=worker.pk, taskset_id=taskset.pk, now=now,
                              rows=[(q.pk, v, ms) for q, v, ms in zip(questions, itertools.cycle([True, False]),
                                                                      [None, 0, 1500, 2**31 - 1])]),
        record.gold_answers_insert(worker_id=worker.pk, taskset_id=taskset.pk, now=now,
                                   rows=[(gold.pk, False, False)]),
        worker_counters_add(worker_id=worker.pk, now=now,
                            counters={"answers_count": 4, "gold_answers": 1, "gold_correct": 0}),
        record.answers_insert(worker_id=worker.pk, taskset_id=taskset.pk, now=now, rows=[]),  # nothing: skipped
    )
    stored = list(Answer.objects.filter(taskset=taskset).order_by("question_id").values_list(
        "question_id", "value", "duration_ms", "excluded", "created_at"))
    assert stored == [(questions[0].pk, True, None, False, now), (questions[1].pk, False, 0, False, now),
                      (questions[2].pk, True, 1500, False, now), (questions[3].pk, False, 2**31 - 1, False, now)]
    assert list(GoldAnswer.objects.values_list("gold_id", "value", "correct", "created_at")) == [
        (gold.pk, False, False, now)]
    worker.refresh_from_db()
    assert (worker.answers_count, worker.gold_answers, worker.gold_correct, worker.last_seen_at) == (9, 1, 0, now)
    with pytest.raises(FieldDoesNotExist):  # a counter name is a column, never SQL
        worker_counters_add(worker_id=worker.pk, counters={"answers_count = 0; --": 1}, now=now)


def test_array_literals_take_integers_booleans_and_nulls_only():
    assert int_array([1, -2, 2**40, None]) == "{1,-2,1099511627776,NULL}"
    assert int_array([True, False]) == "{t,f}" and int_array([]) == "{}"
    for bad in (["1}, {2"], [1.5], [b"1"]):  # nothing else is spelled into SQL text
        with pytest.raises(TypeError):
            int_array(bad)


def test_recent_refusals_shift_in_sql_as_in_the_policy():
    """The engine's counter UPDATE (every kind of set) keeps the same history as
    ``policy.recent_after``, up to its 62 outcomes, on either backend."""
    from backend.crowd.policy import HISTORY, recent_after

    rng = random.Random(4)
    yes_no = Worker.objects.create(provider="inhouse", external_id="yn", recent_refusals=2**HISTORY - 1)
    expected = 2**HISTORY - 1  # a full history: the oldest outcome falls off, nothing overflows
    now = timezone.now()
    for _ in range(70):
        refused = rng.random() < 0.3
        execute_batch(worker_counters_add(worker_id=yes_no.pk, counters={"gold_answers": 1}, now=now,
                                          refused=refused))
        expected = recent_after(expected, refused=refused)
        yes_no.refresh_from_db()
        assert yes_no.recent_refusals == expected < 2**HISTORY
    # without an outcome (not a graded submission) the history stays as it is
    execute_batch(worker_counters_add(worker_id=yes_no.pk, counters={"answers_count": 1}, now=now))
    yes_no.refresh_from_db()
    assert yes_no.recent_refusals == expected
