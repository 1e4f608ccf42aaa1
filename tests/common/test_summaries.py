"""Summaries (backend/common/summaries.py): what pages count stays equal to a fresh count.

Small datasets are counted live on every read (exact at once, nothing stored). Above
``MMIT_SUMMARY_LIVE_ROWS`` (set to 1 here, so the test dataset counts as large) pages read the
stored summary -- one row, whatever the dataset's size -- and after every kind of write, once the
summaries job has run, it equals a count made from scratch.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.annotation.models import Answer, Question, TaskSet
from backend.common.models import Summary
from backend.common.summaries import summaries_refresh, summary_read
from backend.dashboard.selectors import dataset_overview, worker_rows
from backend.labels.models import Label
from backend.videos.models import Video
from backend.videos.selectors import dataset_counted
from tests.annotation.bench import truth_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_recount_requested_yet(monkeypatch):
    """Requests for a recount are deduplicated in the cache: each test starts with its own."""
    import uuid

    from django.core.cache.backends.locmem import LocMemCache

    monkeypatch.setattr("backend.common.summaries.cache", LocMemCache(f"summaries-{uuid.uuid4()}", {}))


def fresh(dataset) -> dict:
    """Every counter the overview, home and API show, counted from scratch."""
    videos = Video.objects.filter(dataset=dataset)
    questions = Question.objects.filter(dataset=dataset)
    labels = Label.objects.filter(dataset=dataset)
    return {
        "videos": {"ok": videos.filter(status="ok").count(), "quarantined": videos.filter(status="quarantined").count()},
        "questions": {"total": questions.count(), "open": questions.filter(state="open").count(),
                      "decided": questions.filter(state="decided").count()},
        "labels": {s: labels.filter(state=s).count() for s in ("positive", "negative", "ambiguous", "pending")},
        "sets": {"accepted": TaskSet.objects.filter(dataset=dataset, status="accepted").count(),
                 "total": TaskSet.objects.filter(dataset=dataset).count()},
        "answers": Answer.objects.filter(question__dataset=dataset).count(),
    }


def shown(dataset) -> dict:
    o = dataset_overview(dataset)
    labels = {k: v for k, v in o["labels"].items() if k != "total"}
    counted = dataset_counted(dataset)
    assert (counted.video_count, counted.quarantined_count) == (o["videos"]["ok"], o["videos"]["quarantined"])
    return {"videos": o["videos"], "questions": o["questions"], "labels": labels, "sets": o["sets"],
            "answers": o["answers"]}


def answer_a_set(name: str, engine) -> None:
    from tests.annotation.bench import WorkerClient

    w = WorkerClient(name)
    payload = w.assign().json()["set"]
    assert payload is not None
    response = w.submit(payload["id"], {i["id"]: truth_of(i["id"], engine) for i in payload["items"]})
    assert response.status_code == 200


def writes(engine, clip_factory):
    """Every kind of write that changes a counter, one at a time (name, function)."""
    from backend.annotation.services.questions import questions_for_labels
    from backend.crowd.sets.assign import sets_expire
    from backend.crowd.sets.kinds import kind_named
    from backend.videos.services import video_import
    from backend.vocabulary.models import Action
    from backend.vocabulary.services import action_merge
    from tests.annotation.bench import WorkerClient

    dataset = engine["dataset"]

    def import_videos():
        video_import(dataset=dataset, source=str(clip_factory(4, corrupt=1, seed=11)), split="val")

    def new_questions():
        falling = Action.objects.get(dataset=dataset, name="falling")
        Label.objects.bulk_create([Label(dataset=dataset, video=v, action=falling, asked_action=falling,
                                         source=Label.Source.INITIAL) for v in Video.objects.filter(dataset=dataset)[:6]])
        questions_for_labels(dataset=dataset)

    def answers(n):
        def run():
            for i in range(n):
                answer_a_set(f"ann-{n}-{i}", engine)
        return run

    def abandon_and_expire():
        WorkerClient("walks-away").assign()
        sets_expire(kind=kind_named("yesno"), now=timezone.now() + timedelta(days=1))

    def merge():
        action_merge(source=Action.objects.get(dataset=dataset, name="falling"),
                     target=Action.objects.get(dataset=dataset, name="jumping"))

    return [("import with a corrupt clip", import_videos), ("labels and questions", new_questions),
            ("answers that decide questions", answers(3)), ("a set abandoned and expired", abandon_and_expire),
            ("more answers", answers(2)), ("an action merged into another", merge)]


def test_small_datasets_are_counted_live(engine, clip_factory):
    dataset = engine["dataset"]
    for name, write in writes(engine, clip_factory):
        write()
        assert shown(dataset) == fresh(dataset), name
    assert not Summary.objects.exists()  # nothing stored for a small dataset


def test_large_datasets_read_the_summary_equal_to_a_fresh_count_after_every_write(engine, clip_factory, settings,
                                                                                 django_assert_max_num_queries):
    settings.MMIT_SUMMARY_LIVE_ROWS = 1
    dataset = engine["dataset"]
    assert shown(dataset) == fresh(dataset)  # first read: counted, and stored
    assert Summary.objects.filter(key=f"overview:{dataset.pk}").exists()
    for name, write in writes(engine, clip_factory):
        before = shown(dataset)
        write()
        # until the job runs, a page reads the stored summary: one row, not a count
        with django_assert_max_num_queries(1):
            counted = summary_read("overview", dataset.pk)
        assert not counted.live
        assert shown(dataset) == before, name
        summaries_refresh()
        assert shown(dataset) == fresh(dataset), name


def test_harvest_and_agreement_summaries_match_fresh_counts(engine, settings):
    from backend.candidates.selectors import _harvest_rows, harvest_groups
    from backend.vocabulary.models import Action

    settings.MMIT_SUMMARY_LIVE_ROWS = 1
    dataset = engine["dataset"]
    falling = Action.objects.get(dataset=dataset, name="falling")
    states = ["positive", "negative", "pending", "ambiguous"]

    def propose(videos, round_number):
        Label.objects.bulk_create([Label(dataset=dataset, video=v, action=falling, asked_action=falling, source="wordnet",
                                         round=round_number, state=states[i % 4]) for i, v in enumerate(videos)])

    propose(Video.objects.filter(dataset=dataset).order_by("id")[:10], 1)
    harvest_groups(dataset=dataset)  # counted and stored
    answer_a_set("first", engine)
    worker_rows(dataset=dataset)  # counted and stored
    propose(Video.objects.filter(dataset=dataset).order_by("id")[10:16], 2)
    answer_a_set("second", engine)
    answer_a_set("third", engine)
    summaries_refresh(dataset_id=dataset.pk)
    rows = {r["worker"].external_id: r["agreement"] for r in worker_rows(dataset=dataset)}
    live = {r["worker"].external_id: r["agreement"] for r in worker_rows(dataset=None)}
    assert rows == live and set(rows) == {"first", "second", "third"}
    assert any(v is not None for v in rows.values())
    stored = sorted((g.source, g.relation_id, g.round, g.tally.asked, g.tally.decided, g.tally.yes)
                    for g in harvest_groups(dataset=dataset))
    assert stored == sorted(tuple(r) for r in _harvest_rows(dataset.pk))
    assert stored == [("wordnet", None, 1, 10, 8, 3), ("wordnet", None, 2, 6, 5, 2)]


def test_a_stale_summary_asks_a_worker_for_a_recount_once(engine, settings, sent_tasks):
    settings.MMIT_SUMMARY_LIVE_ROWS = 1
    dataset = engine["dataset"]
    summary_read("overview", dataset.pk)
    assert sent_tasks == []
    Summary.objects.filter(key=f"overview:{dataset.pk}").update(computed_at=timezone.now() - timedelta(hours=1))
    summary_read("overview", dataset.pk)
    summary_read("overview", dataset.pk)
    assert sent_tasks == [("mmit.summaries.refresh", (), {"dataset_id": dataset.pk})]


def test_the_overview_says_when_it_was_counted(engine, client, staff_user, settings, sent_tasks):
    client.force_login(staff_user)
    page = client.get("/dashboard/synthetic/").content.decode()
    assert "Counted" not in page  # small: live
    settings.MMIT_SUMMARY_LIVE_ROWS = 1
    client.get("/dashboard/synthetic/")  # stores it
    page = client.get("/dashboard/synthetic/").content.decode()
    assert "Counted" in page and "recounted every minute" in page
    assert "this count is late" not in page
    Summary.objects.update(computed_at=timezone.now() - timedelta(minutes=47))
    page = client.get("/dashboard/synthetic/").content.decode()
    assert "Counted 47" in page and "this count is late" in page and "Celery beat and a worker" in page
    assert ("mmit.summaries.refresh", (), {"dataset_id": engine["dataset"].pk}) in sent_tasks
    assert "recounted every minute" in client.get("/dashboard/").content.decode()


def test_the_summaries_task_and_its_schedule(engine, settings, eager_tasks):
    from workers.celery import app
    from workers.tasks.summaries import refresh

    settings.MMIT_SUMMARY_LIVE_ROWS = 1
    dataset = engine["dataset"]
    summary_read("overview", dataset.pk)
    summary_read("videos", dataset.pk)
    summary_read("harvest", dataset.pk)  # no proposals: nothing to count, nothing stored
    assert refresh.delay().get() == 2
    assert refresh.delay(dataset_id=dataset.pk + 1).get() == 0
    assert app.conf.beat_schedule["summaries-refresh"]["task"] == "mmit.summaries.refresh"
