"""Adaptive redundancy: stop when confident, ask more on disagreement, within the cap."""
from __future__ import annotations

import pytest

from backend.annotation.models import Question
from backend.annotation.services.consensus import questions_sweep, worker_confusions
from tests.annotation.bench import is_gold, truth_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def adaptive(engine):
    ds = engine["dataset"]
    ds.aggregator, ds.adaptive, ds.max_answers = "dawid_skene", True, 4
    ds.save()
    Question.objects.update(needed=2, max_answers=4)
    return engine


def _work(w, engine, *, flip_real=False):
    while (payload := w.assign().json()["set"]) is not None:
        answers = {}
        for item in payload["items"]:
            truth = truth_of(item["id"], engine)
            answers[item["id"]] = truth if is_gold(item["id"]) or not flip_real else not truth
        assert w.submit(payload["id"], answers).json()["status"] == "accepted"


def test_agreeing_reliable_workers_stop_at_two(adaptive, make_worker):
    _work(make_worker("a"), adaptive)
    assert not Question.objects.filter(state="decided").exists()  # one answer is never enough
    _work(make_worker("b"), adaptive)
    decided = Question.objects.filter(state="decided")
    # while b's reliability is still uncertain some questions ask for a third answer ...
    assert decided.exists() and set(decided.values_list("answers", flat=True)) == {2}
    # ... which the sweep no longer needs once b's gold record is in
    questions_sweep(dataset=adaptive["dataset"])
    assert decided.count() == 30 and set(decided.values_list("answers", flat=True)) == {2}
    for q in decided.select_related("video", "action"):
        assert q.decision == ("positive" if q.action.name in adaptive["truth"][q.video.name] else "negative")


def test_disagreement_asks_more_up_to_the_cap(adaptive, make_worker):
    _work(make_worker("a"), adaptive)
    _work(make_worker("b"), adaptive, flip_real=True)
    assert set(Question.objects.values_list("needed", flat=True)) == {3}
    assert not Question.objects.filter(state="decided").exists()
    _work(make_worker("c"), adaptive)
    # 2 against 1 from equally reliable workers is not confident: one more, then the cap
    assert set(Question.objects.values_list("needed", flat=True)) == {4}
    _work(make_worker("d"), adaptive)
    assert Question.objects.filter(state="decided", answers=4).count() == 30
    for q in Question.objects.select_related("video", "action"):
        assert q.decision == ("positive" if q.action.name in adaptive["truth"][q.video.name] else "negative")


def test_gold_estimates_reliability(adaptive, make_worker):
    w = make_worker("a")
    _work(w, adaptive)
    sens, spec = worker_confusions([w.worker.pk])[w.worker.pk]
    assert sens > 0.85 and spec > 0.85  # all gold right: above the prior of 0.85
