"""Set assembly, gold grading, redundancy, consensus, blocking and expiry."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.annotation.models import Answer, Attempt, GoldAnswer, Question, SetItem, Shown, TaskSet
from backend.annotation.services import submit as submit_service
from backend.annotation.services.assign import gold_count, taskset_assign, tasksets_expire
from backend.crowd.models import Worker, WorkerEvent
from backend.crowd.policy import block_notice, block_reason
from backend.crowd.services import worker_unblock
from backend.labels.models import Label
from tests.annotation.bench import is_gold, truth_of

pytestmark = pytest.mark.django_db


def _answers(payload, engine, *, wrong_gold=0, flip_real=False):
    answers, flipped = {}, 0
    for item in payload["items"]:
        truth = truth_of(item["id"], engine)
        if is_gold(item["id"]) and flipped < wrong_gold:
            truth, flipped = not truth, flipped + 1
        elif flip_real and not is_gold(item["id"]):
            truth = not truth
        answers[item["id"]] = truth
    return answers


def test_set_is_one_action_with_hidden_gold_at_random_positions(engine, make_worker):
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    assert len(payload["items"]) == 10 and payload["action"]["name"] == "jumping"
    taskset = TaskSet.objects.get(public_id=payload["id"])
    gold = SetItem.objects.filter(taskset=taskset, gold__isnull=False)
    assert gold.count() == gold_count(dataset=engine["dataset"], worker=w.worker) == 3  # probation: 30%
    assert {i.question.action_id for i in SetItem.objects.filter(taskset=taskset, question__isnull=False)} == {
        engine["action"].id}
    # positions of gold differ from set to set (not always first or last)
    positions = set()
    for name in ("b", "c", "d", "e", "f"):
        p = make_worker(name).assign().json()["set"]
        positions |= {i for i, item in enumerate(p["items"]) if is_gold(item["id"])}
    assert len(positions) > 3
    # asking again resumes the same open set
    assert w.assign().json()["set"]["id"] == payload["id"]


def test_gold_ratio_after_probation(engine, make_worker):
    w = make_worker("veteran")
    Worker.objects.filter(pk=w.worker.pk).update(sets_accepted=5)
    w.worker.refresh_from_db()
    assert gold_count(dataset=engine["dataset"], worker=w.worker) == 1  # 10% of 10


def test_gold_items_look_like_every_other_item(engine, make_worker):
    payload = make_worker("alice").assign().json()["set"]
    gold = [i for i in payload["items"] if is_gold(i["id"])]
    real = [i for i in payload["items"] if not is_gold(i["id"])]
    assert gold and real
    for item in payload["items"]:
        assert set(item) == {"id", "media_url", "media_type"}
        assert item["media_url"].startswith("/api/work/media/") and item["media_type"] == "video"
    assert {len(i["media_url"]) for i in gold} <= {len(i["media_url"]) for i in payload["items"]}


def test_accept_with_one_gold_wrong_refuse_with_two_then_fix(engine, make_worker):
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    refused = w.submit(payload["id"], _answers(payload, engine, wrong_gold=2))
    assert refused.status_code == 422
    body = refused.json()
    assert body == {"status": "refused", "detail": submit_service.REVIEW_MESSAGE, "attempts_left": 2}
    assert not Answer.objects.exists()
    assert Attempt.objects.filter(accepted=False, gold_wrong=2).count() == 1
    ok = w.submit(payload["id"], _answers(payload, engine))
    assert ok.status_code == 200 and ok.json()["status"] == "accepted"
    assert Answer.objects.filter(worker=w.worker).count() == 7
    assert GoldAnswer.objects.filter(worker=w.worker).count() == 6
    w.worker.refresh_from_db()
    assert (w.worker.sets_accepted, w.worker.attempts_refused, w.worker.gold_answers, w.worker.gold_correct) == (
        1, 1, 6, 4)
    assert not w.worker.blocked
    # one wrong gold answer is tolerated at the first attempt
    b = make_worker("bob")
    p2 = b.assign().json()["set"]
    assert b.submit(p2["id"], _answers(p2, engine, wrong_gold=1)).json()["status"] == "accepted"


def test_attempts_are_capped_and_the_set_fails(engine, make_worker, settings):
    settings.MMIT_BLOCK_AFTER_REFUSALS = 99
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 999
    w = make_worker("mallory")
    payload = w.assign().json()["set"]
    for left in (2, 1):
        assert w.submit(payload["id"], _answers(payload, engine, wrong_gold=2)).json()["attempts_left"] == left
    final = w.submit(payload["id"], _answers(payload, engine, wrong_gold=2))
    assert final.status_code == 422 and final.json()["status"] == "failed"
    assert TaskSet.objects.get(public_id=payload["id"]).status == TaskSet.Status.FAILED
    assert w.submit(payload["id"], _answers(payload, engine)).status_code == 410
    assert Attempt.objects.count() == 3 and not Answer.objects.exists()
    # the questions went back to the pool
    assert not Question.objects.filter(in_flight__gt=0).exists()


def test_redundancy_and_majority_consensus(engine, make_worker):
    """Three workers answer; labels become positive/negative by majority with vote counts."""
    for name in ("a", "b", "c"):
        w = make_worker(name)
        while True:
            payload = w.assign().json()["set"]
            if payload is None:
                break
            flip = name == "c"  # one dissenting worker: majority still right
            assert w.submit(payload["id"], _answers(payload, engine, flip_real=flip)).json()["status"] == "accepted"
    assert Question.objects.filter(state="decided").count() == 30
    assert not Question.objects.filter(answers__gt=3).exists()
    for label in Label.objects.select_related("video"):
        truth = "jumping" in engine["truth"][label.video.name]
        assert label.state == ("positive" if truth else "negative")
        assert (label.yes_count, label.no_count) == ((2, 1) if truth else (1, 2))
        assert label.confidence == pytest.approx(2 / 3)
    # nobody was shown a question twice, and a fourth worker gets no work
    assert Shown.objects.count() == 90
    assert make_worker("late").assign().json() == {"set": None, "detail": "There is no work available for you right now. Thank you!"}


def test_val_split_needs_five_answers(engine, make_worker):
    Question.objects.update(split="val", needed=5)
    for name in "abcd":
        w = make_worker(name)
        while (payload := w.assign().json()["set"]) is not None:
            w.submit(payload["id"], _answers(payload, engine))
    assert not Question.objects.filter(state="decided").exists()
    w = make_worker("e")
    while (payload := w.assign().json()["set"]) is not None:
        w.submit(payload["id"], _answers(payload, engine))
    assert Question.objects.filter(state="decided", answers=5).count() == 30


def test_tie_is_ambiguous(engine, make_worker):
    Question.objects.update(needed=2)
    for name, flip in (("a", False), ("b", True)):
        w = make_worker(name)
        while (payload := w.assign().json()["set"]) is not None:
            w.submit(payload["id"], _answers(payload, engine, flip_real=flip))
    assert set(Label.objects.values_list("state", flat=True)) == {"ambiguous"}


def test_expired_sets_return_questions_and_refuse_submission(engine, make_worker):
    w = make_worker("slow")
    payload = w.assign().json()["set"]
    TaskSet.objects.filter(public_id=payload["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = w.submit(payload["id"], _answers(payload, engine))
    assert response.status_code == 410 and response.json()["detail"] == submit_service.SET_EXPIRED
    assert TaskSet.objects.get(public_id=payload["id"]).status == "expired"
    assert not Question.objects.filter(in_flight__gt=0).exists() and not Answer.objects.exists()
    # the beat task path
    other = make_worker("other").assign().json()["set"]
    TaskSet.objects.filter(public_id=other["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasksets_expire() == 1 and tasksets_expire() == 0
    # the slow worker was shown those questions: they are not shown to them again
    again = w.assign().json()["set"]
    seen = set(SetItem.objects.filter(taskset__public_id=payload["id"], question__isnull=False).values_list(
        "question_id", flat=True))
    now = set(SetItem.objects.filter(taskset__public_id=again["id"], question__isnull=False).values_list(
        "question_id", flat=True))
    assert seen and not (seen & now)


def test_spammer_is_blocked_answers_excluded_and_unblocked_by_curator(engine, make_worker, staff_user, settings):
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 999  # exercise the refusal rule here
    honest = make_worker("honest")
    spam = make_worker("spam")
    p1 = honest.assign().json()["set"]
    honest.submit(p1["id"], _answers(p1, engine))
    p2 = spam.assign().json()["set"]
    # one gold wrong: accepted, answers stored (on open questions)
    spam.submit(p2["id"], _answers(p2, engine, wrong_gold=1, flip_real=True))
    counted = sum(Question.objects.values_list("answers", flat=True))
    assert Answer.objects.filter(worker=spam.worker, excluded=False).count() == 7
    # then two refusals in a row on the next set, and a third: blocked by the refusal rule
    p3 = spam.assign().json()["set"]
    for _ in range(3):
        spam.submit(p3["id"], _answers(p3, engine, wrong_gold=2))
    spam.worker.refresh_from_db()
    assert spam.worker.blocked
    assert spam.worker.blocked_reason == "3 of the latest 20 graded sets refused on gold (limit 3)"
    assert spam.worker.recent_refusals == 0b0111  # newest outcome in bit 0: three refusals after one accepted set
    assert WorkerEvent.objects.filter(worker=spam.worker, kind="blocked").exists()
    assert Answer.objects.filter(worker=spam.worker, excluded=True).count() == 7
    assert sum(Question.objects.values_list("answers", flat=True)) == counted - 7  # their votes no longer count
    assert spam.assign().status_code == 403
    worker_unblock(worker=spam.worker, reason="reviewed: new annotator, explained the task", actor=staff_user)
    spam.worker.refresh_from_db()
    assert not spam.worker.blocked and spam.worker.attempts_refused == spam.worker.recent_refusals == 0
    event = WorkerEvent.objects.get(worker=spam.worker, kind="unblocked")
    assert event.reason.startswith("reviewed") and event.actor == staff_user
    assert spam.assign().status_code == 200


def test_refusals_count_among_the_latest_graded_sets(engine, make_worker, settings):
    # a careful worker's rare slips do not add up to a block over a long campaign
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 999
    settings.MMIT_BLOCK_REFUSAL_WINDOW = 3
    w = make_worker("careful")
    for _ in range(3):
        p = w.assign().json()["set"]
        assert w.submit(p["id"], _answers(p, engine, wrong_gold=2)).json()["status"] == "refused"
        assert w.submit(p["id"], _answers(p, engine)).json()["status"] == "accepted"
    w.worker.refresh_from_db()
    # three refusals in all, never more than two among the latest three graded submissions
    assert (w.worker.attempts_refused, w.worker.recent_refusals, w.worker.blocked) == (3, 0b101010, False)
    assert block_reason(w.worker) is None
    # counted since the last unblock (no window), the same three block
    settings.MMIT_BLOCK_REFUSAL_WINDOW = 0
    assert block_reason(w.worker) == "3 sets refused on gold (limit 3)"
    # a window wider than the history kept counts the 62 latest
    settings.MMIT_BLOCK_REFUSAL_WINDOW = 100
    assert block_reason(w.worker) == "3 of the latest 62 graded sets refused on gold (limit 3)"


def test_a_refusal_that_blocks_says_so_and_why_then_every_request_does(engine, make_worker, settings):
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 999
    w = make_worker("slipping")
    Worker.objects.filter(pk=w.worker.pk).update(recent_refusals=0b11)  # two refusals among the latest
    p = w.assign().json()["set"]
    r = w.submit(p["id"], _answers(p, engine, wrong_gold=2))
    w.worker.refresh_from_db()
    notice = block_notice(w.worker.blocked_reason)
    assert w.worker.blocked and "3 of the latest 20" in w.worker.blocked_reason
    # not "(2 attempts left)": the worker is told they are blocked, why, and what now
    assert r.status_code == 422 and r.json() == {"status": "blocked", "detail": notice, "attempts_left": 0}
    assert notice.startswith("Your account has been blocked: 3 of your recent sets did not pass")
    assert "contact whoever gave you this task" in notice and "gold" not in notice
    assert TaskSet.objects.get(public_id=p["id"]).status == TaskSet.Status.CANCELLED
    again = w.submit(p["id"], _answers(p, engine))  # not only "This set was cancelled."
    assert again.status_code == 403 and again.json()["detail"] == notice
    assert w.assign().status_code == 403 and w.assign().json()["detail"] == notice
    replay = Attempt.objects.get(taskset__public_id=p["id"])
    assert replay.response["status"] == "blocked"  # a retried submit gets the same answer


def test_always_yes_spammer_is_caught_by_gold_accuracy(engine, make_worker):
    spam = make_worker("yesman")
    for _ in range(4):
        payload = spam.assign().json()["set"]
        if payload is None:
            break
        spam.submit(payload["id"], {i["id"]: True for i in payload["items"]})
        spam.worker.refresh_from_db()
        if spam.worker.blocked:
            break
    assert spam.worker.blocked


def test_assign_directly_returns_none_when_dataset_has_no_questions(dataset, make_worker):
    assert taskset_assign(dataset=dataset, worker=make_worker("x").worker) is None
