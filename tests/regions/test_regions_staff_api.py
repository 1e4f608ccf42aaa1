"""The curators' API: frame selection and pipeline passes as jobs, gold images, the schema."""
from __future__ import annotations

import pytest

from backend.annotation.models import GoldQuestion
from backend.common.models import Job
from backend.regions.models import FrameAction, RegionFrame
from backend.regions.selectors import UNKNOWN_ACTION, UNKNOWN_VIDEO
from backend.regions.services.frames import regions_select_frames

pytestmark = pytest.mark.django_db


def test_frame_selection_and_advance_run_as_jobs(bench, staff_client, eager_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post("/api/regions/synthetic/frames/", {"per_action": 1, "actions": ["jumping"]},
                              format="json")
    assert r.status_code == 202
    job = Job.objects.get(pk=r.json()["id"])
    assert job.status == "succeeded" and job.result["selected"] == 1 and job.done == job.total == 1
    assert FrameAction.objects.get().visibility_round == 1
    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post("/api/regions/synthetic/advance/")
    job = Job.objects.get(pk=r.json()["id"])
    assert job.status == "succeeded" and job.result["visibility_rounds_opened"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        r = staff_client.post("/api/regions/synthetic/frames/", {"actions": ["teleporting"]}, format="json")
    job = Job.objects.get(pk=r.json()["id"])
    assert job.status == "failed" and "teleporting" in job.error
    assert staff_client.post("/api/regions/synthetic/frames/", {"per_action": 0}, format="json").status_code == 400
    assert staff_client.post("/api/regions/nope/advance/").status_code == 404


def test_gold_images_through_the_api(bench, staff_client, anon_client):
    name = next(n for n, b in sorted(bench["boxes"].items()) if "sliding" in b)
    r = staff_client.post("/api/regions/synthetic/gold/",
                          {"video": name, "action": "sliding", "boxes": bench["boxes"][name]["sliding"]}, format="json")
    assert r.status_code == 201
    gold = GoldQuestion.objects.get(pk=r.json()["visible"])
    assert gold.truth and gold.image_key == RegionFrame.objects.get(pk=r.json()["frame"]).image_key
    r = staff_client.post("/api/regions/synthetic/gold/", {"video": "nope.mp4", "action": "sliding"}, format="json")
    assert r.status_code == 404 and r.json()["detail"] == UNKNOWN_VIDEO.format(name="nope.mp4", dataset="synthetic")
    r = staff_client.post("/api/regions/synthetic/gold/", {"video": name, "action": "x"}, format="json")
    assert r.status_code == 404 and r.json()["detail"] == UNKNOWN_ACTION.format(name="x", dataset="synthetic")
    r = staff_client.post("/api/regions/synthetic/gold/", {"video": name, "action": "sliding",
                                                          "boxes": [[0, 0, 0, 9]]}, format="json")
    assert r.status_code == 400 and "zero or negative area" in r.json()["detail"]
    assert anon_client.post("/api/regions/synthetic/gold/", {}, format="json").status_code in (401, 403)


def test_gold_csv_import(bench, tmp_path):
    from django.core.management import CommandError, call_command

    name = next(n for n, b in sorted(bench["boxes"].items()) if "sliding" in b)
    other = next(n for n in sorted(bench["truth"]) if "sliding" not in bench["truth"][n])
    good = tmp_path / "gold.csv"
    good.write_text(f'video,action,boxes\n{name},sliding,"{bench["boxes"][name]["sliding"]}"\n{other},sliding,[]\n')
    call_command("import_region_gold", "--dataset", "synthetic", "--csv", str(good))
    assert sorted(GoldQuestion.objects.filter(prompt="visible").values_list("truth", flat=True)) == [False, True]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"video,action,boxes\n{name},sliding,[[1,2,3]\n")
    with pytest.raises(CommandError, match="line 2: boxes are not JSON"):
        call_command("import_region_gold", "--dataset", "synthetic", "--csv", str(bad))
    outside = tmp_path / "outside.csv"
    outside.write_text(f'video,action,boxes\n{other},jumping,[]\n{name},falling,"[[0, 0, 99, 9]]"\n')
    with pytest.raises(CommandError, match="lies outside the image"):
        call_command("import_region_gold", "--dataset", "synthetic", "--csv", str(outside))
    assert not GoldQuestion.objects.filter(action__name__in=["jumping", "falling"]).exists()


def test_schema_lists_the_regions_api(staff_client):
    text = staff_client.get("/api/schema/").content.decode()
    for path in ("/api/regions/work/{name}/sets/", "/api/regions/work/sets/{set_id}/submit/",
                 "/api/regions/{name}/frames/", "/api/regions/exports/", "/api/regions/{name}/stats/"):
        assert path in text


def test_drawing_page_renders(bench, client):
    r = client.get("/regions/synthetic/")
    assert r.status_code == 200 and b"regions/regions.js" in r.content
    assert client.get("/regions/nope/").status_code == 404


@pytest.mark.parametrize("model", ["regionframe", "frameaction", "region", "drawingset", "drawing"])
def test_admin_changelists(bench, client, staff_user, model):
    regions_select_frames(dataset=bench["dataset"], per_action=1, actions=["jumping"])
    client.force_login(staff_user)
    response = client.get(f"/admin/regions/{model}/?q=a")
    assert response.status_code == 200
    assert client.get(f"/admin/regions/{model}/add/").status_code == 403


def test_periodic_tasks(bench, eager_tasks):
    from datetime import timedelta

    from django.utils import timezone

    from backend.regions.models import DrawingSet
    from tests.regions.bench import Drawer, to_drawing
    from workers.tasks.regions import advance_all, expire_drawing_sets

    regions_select_frames(dataset=bench["dataset"], per_action=2, actions=["jumping"])
    FrameAction.objects.update(visibility_question=None)  # lost questions: the pass reopens the round
    assert advance_all.delay().get() == 1  # one dataset, however many frame-actions
    assert not FrameAction.objects.filter(visibility_question=None).exists()
    FrameAction.objects.exclude(pk=FrameAction.objects.first().pk).delete()
    to_drawing(FrameAction.objects.all())
    Drawer("alice").assign()
    DrawingSet.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert expire_drawing_sets.delay().get() == 1
    assert DrawingSet.objects.get().status == "expired" and FrameAction.objects.get().in_flight == 0
