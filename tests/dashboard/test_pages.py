"""Dashboard pages render for staff, refuse others, and the unblock control works."""
from __future__ import annotations

import pytest

from backend.crowd.models import WorkerEvent
from backend.crowd.services import worker_block
from backend.labels.models import Label

pytestmark = pytest.mark.django_db


@pytest.fixture
def curator(client, staff_user):
    client.force_login(staff_user)
    return client


def _urls(engine):
    label = Label.objects.first()
    return ["/dashboard/", "/dashboard/synthetic/", "/dashboard/synthetic/workers/", "/dashboard/synthetic/labels/",
            "/dashboard/synthetic/labels/?state=pending&action=jumping", f"/dashboard/synthetic/videos/{label.video_id}/",
            "/dashboard/synthetic/releases/"]


def test_every_page_renders(engine, curator, make_worker):
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    from tests.annotation.bench import truth_of

    w.submit(payload["id"], {i["id"]: truth_of(i["id"], engine) for i in payload["items"]})
    for url in _urls(engine):
        response = curator.get(url)
        assert response.status_code == 200, url
    assert b"alice" in curator.get("/dashboard/synthetic/workers/").content
    video_page = curator.get(f"/dashboard/synthetic/videos/{Label.objects.filter(yes_count__gte=0).first().video_id}/")
    assert b"<video" in video_page.content
    assert curator.get("/dashboard/nope/").status_code == 404


def test_pages_need_staff(engine, client, django_user_model):
    for url in _urls(engine):
        assert client.get(url).status_code == 302  # to the login page
    user = django_user_model.objects.create_user(username="ann", password="pw-123456-x")
    client.force_login(user)
    assert client.get("/dashboard/").status_code == 302


def test_unblock_from_the_dashboard(engine, curator, make_worker, staff_user):
    w = make_worker("mallory")
    w.assign()
    worker_block(worker=w.worker, reason="test block")
    page = curator.get("/dashboard/synthetic/workers/")
    assert b"test block" in page.content
    response = curator.post(f"/dashboard/synthetic/workers/{w.worker.pk}/unblock/", {"reason": "reviewed the answers"})
    assert response.status_code == 302
    w.worker.refresh_from_db()
    assert not w.worker.blocked
    event = WorkerEvent.objects.get(worker=w.worker, kind="unblocked")
    assert event.reason == "reviewed the answers" and event.actor == staff_user
    # no reason: refused with a message, nothing changed
    worker_block(worker=w.worker, reason="again")
    curator.post(f"/dashboard/synthetic/workers/{w.worker.pk}/unblock/", {"reason": ""})
    w.worker.refresh_from_db()
    assert w.worker.blocked


def test_export_from_the_dashboard(engine, curator, django_capture_on_commit_callbacks, settings, tmp_path,
                                   sent_tasks):
    with django_capture_on_commit_callbacks(execute=True):
        response = curator.post("/dashboard/synthetic/releases/export/")
    assert response.status_code == 302 and [name for name, *_ in sent_tasks] == ["mmit.releases.export_release"]
    page = curator.get("/dashboard/synthetic/releases/")
    assert b"export_release" in page.content and b"data-job" in page.content


def test_models_page_and_retrain_button(engine, curator, django_capture_on_commit_callbacks, sent_tasks):
    from backend.releases.services import release_export
    from backend.training.models import ModelRun
    from backend.training.services import run_for_release

    run, _ = run_for_release(release=release_export(dataset=engine["dataset"]), config={"model": "i3d_r50",
                                                                                      "loss": "wlsep"})
    ModelRun.objects.filter(pk=run.pk).update(status="succeeded", metrics={"epochs": [], "eval": {"splits": {"val": {
        "top1": 0.5, "top5": 0.9, "micro_map": 0.6, "macro_map": 0.4, "per_class_ap": {"jumping": 0.7}}}}})
    page = curator.get("/dashboard/synthetic/models/")
    assert page.status_code == 200 and b"0.600" in page.content and b'"jumping"' in page.content
    with django_capture_on_commit_callbacks(execute=True):
        assert curator.post("/dashboard/synthetic/models/retrain/").status_code == 302
    assert sent_tasks == [("mmit.training.retrain", ("synthetic", None), {})]


def test_interpretation_page(engine, curator):
    from backend.releases.services import release_export
    from backend.training.models import ModelRun
    from backend.training.services import run_for_release

    run, _ = run_for_release(release=release_export(dataset=engine["dataset"]), config={"model": "i3d_r50"})
    assert b"No finished model run" in curator.get("/dashboard/synthetic/interpretation/").content
    ModelRun.objects.filter(pk=run.pk).update(status="succeeded", artifacts={"mcam/00-clip.png": "models/x/00.png"})
    page = curator.get("/dashboard/synthetic/interpretation/")
    assert page.status_code == 200 and b"00-clip.png" in page.content and b"Not dissected yet" in page.content


def test_mturk_page_and_publish_control(engine, curator, settings, django_capture_on_commit_callbacks, sent_tasks):
    from backend.mturk.models import Batch

    page = curator.get("/dashboard/synthetic/mturk/")
    assert page.status_code == 200 and b"No batch published yet" in page.content and b"(sandbox)" in page.content
    # an http site cannot publish: a clear message, nothing stored
    curator.post("/dashboard/synthetic/mturk/publish/", {"reward": "0.40", "budget": "20", "assignments": "1"})
    assert not Batch.objects.exists()
    settings.SITE_URL = "https://labels.example.org"
    with django_capture_on_commit_callbacks(execute=True):
        r = curator.post("/dashboard/synthetic/mturk/publish/", {"reward": "0.40", "budget": "20",
                                                                 "assignments": "1", "hits": "3"})
    assert r.status_code == 302 and [name for name, *_ in sent_tasks] == ["mmit.mturk.publish_batch"]
    batch = Batch.objects.get()
    assert batch.hits_requested == 3 and batch.sandbox
    page = curator.get("/dashboard/synthetic/mturk/")
    assert b"0 / 3" in page.content
    bad = curator.post("/dashboard/synthetic/mturk/publish/", {"reward": "x", "budget": "20"}, follow=True)
    assert b"must be amounts" in bad.content and Batch.objects.count() == 1
