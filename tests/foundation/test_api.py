"""Staff API, OpenAPI schema and docs, health, admin pages."""
from __future__ import annotations

from unittest import mock

import pytest

from backend.common.models import Job
from backend.labels.models import Label
from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action

pytestmark = pytest.mark.django_db


def test_schema_and_docs(staff_client, anon_client):
    schema = staff_client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/datasets/{name}/imports/" in text and "/api/health/" in text
    assert staff_client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize("url", ["/api/datasets/", "/api/datasets/synthetic/videos/",
                                 "/api/datasets/synthetic/actions/", "/api/datasets/synthetic/vocabulary/events/"])
def test_staff_only(url, anon_client, dataset, django_user_model):
    assert anon_client.get(url).status_code in (401, 403)
    worker = django_user_model.objects.create_user(username="w", password="pw-12345-x")
    anon_client.force_authenticate(worker)
    assert anon_client.get(url).status_code == 403


def test_health_ok_and_broker_down(anon_client):
    response = anon_client.get("/api/health/")
    assert response.status_code == 200 and response.json() == {"database": "ok", "broker": "ok"}
    with mock.patch("backend.common.views._check_broker", side_effect=ConnectionError("down")):
        response = anon_client.get("/api/health/")
    assert response.status_code == 503 and response.json()["broker"] == "error: ConnectionError"


def test_dataset_create_and_errors(staff_client):
    response = staff_client.post("/api/datasets/", {"name": "moments", "train_answers": 3}, format="json")
    assert response.status_code == 201 and response.json()["name"] == "moments"
    again = staff_client.post("/api/datasets/", {"name": "moments"}, format="json")
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    bad = staff_client.post("/api/datasets/", {"name": "<script>x</script>"}, format="json")
    assert bad.status_code == 400 and Dataset.objects.count() == 1
    assert staff_client.get("/api/datasets/nope/").status_code == 404
    assert staff_client.get("/api/datasets/nope/").json()["detail"] == "Unknown dataset 'nope'."


def test_import_through_api_runs_as_job(staff_client, dataset, clip_factory, settings, tmp_path, eager_tasks,
                                        django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    folder = clip_factory(12, corrupt=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/api/datasets/synthetic/imports/", {"source": str(folder)}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["imported"] == 12 and job.result["quarantined"] == 1
    assert job.done == job.total == 13
    status = staff_client.get(f"/api/jobs/{job.id}/").json()
    assert status["status"] == "succeeded" and status["fraction"] == 1.0


@pytest.mark.parametrize("payload,message", [
    ({"source": "/etc"}, "outside the allowed import roots"),
    ({"source": "/tmp/definitely-missing-folder"}, "does not exist"),
    ({"source": "s3:///nobucket"}, "Invalid S3 URI"),
    ({}, "required"),
])
def test_import_bad_input_is_4xx_and_stores_nothing(staff_client, dataset, payload, message):
    response = staff_client.post("/api/datasets/synthetic/imports/", payload, format="json")
    assert response.status_code == 400
    assert message in str(response.json())
    assert not Job.objects.exists() and not Video.objects.exists()


def test_vocabulary_api(staff_client, dataset):
    actions = staff_client.get("/api/datasets/synthetic/actions/?limit=500").json()["results"]
    assert len(actions) == 12
    created = staff_client.post("/api/datasets/synthetic/actions/", {"name": "hopping"}, format="json")
    assert created.status_code == 201
    hop = created.json()["id"]
    dup = staff_client.post("/api/datasets/synthetic/actions/", {"name": "hopping"}, format="json")
    assert dup.status_code == 409
    jumping = Action.objects.get(dataset=dataset, name="jumping").id
    renamed = staff_client.post(f"/api/datasets/synthetic/actions/{hop}/rename/", {"name": "hop"}, format="json")
    assert renamed.json()["name"] == "hop"
    edited = staff_client.patch(f"/api/datasets/synthetic/actions/{hop}/",
                                {"definition": "to jump lightly", "synsets": ["hop.v.01"]}, format="json")
    assert edited.json()["synsets_curated"] is True
    merged = staff_client.post(f"/api/datasets/synthetic/actions/{hop}/merge/", {"into": jumping}, format="json")
    assert merged.json()["status"] == "merged" and merged.json()["merged_into"] == "jumping"
    flying = Action.objects.get(dataset=dataset, name="flying").id
    staff_client.post(f"/api/datasets/synthetic/actions/{flying}/remove/", {"reason": "noisy"}, format="json")
    into_removed = staff_client.post(f"/api/datasets/synthetic/actions/{jumping}/merge/", {"into": flying},
                                     format="json")
    assert into_removed.status_code == 400 and "removed" in into_removed.json()["detail"]
    events = staff_client.get("/api/datasets/synthetic/vocabulary/events/").json()["results"]
    assert [e["kind"] for e in events][:5] == ["remove", "merge", "edit", "rename", "add"]
    dry = staff_client.post("/api/datasets/synthetic/vocabulary/migrate/",
                            {"names": ["jumping", "falling/dropping", "sleeping"]}, format="json").json()
    assert dry["dry_run"] is True and dry["added"] == ["sleeping"]
    assert dry["combined"] == [{"name": "falling/dropping", "from": ["falling"]}]
    assert Action.objects.filter(dataset=dataset, status="active").count() == 11


@pytest.mark.parametrize("model", ["videos/dataset", "videos/video", "vocabulary/action",
                                   "vocabulary/vocabularyevent", "labels/label", "common/job"])
def test_admin_changelists(client, staff_user, dataset, model):
    client.force_login(staff_user)
    response = client.get(f"/admin/{model}/?q=a")
    assert response.status_code == 200


def test_admin_import_form(client, staff_user, dataset, clip_factory, settings, tmp_path, sent_tasks,
                           django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(staff_user)
    url = f"/admin/videos/dataset/{dataset.pk}/import/"
    assert client.get(url).status_code == 200
    bad = client.post(url, {"source": "/etc"})
    assert bad.status_code == 200 and b"outside the allowed import roots" in bad.content
    folder = str(clip_factory(12))
    with django_capture_on_commit_callbacks(execute=True):
        ok = client.post(url, {"source": folder})
    assert ok.status_code == 302
    job = Job.objects.get(kind="import_videos")
    assert sent_tasks == [("mmit.videos.import_videos", (str(job.id), dataset.id, folder, None), {})]
    changelist = client.post("/admin/videos/dataset/", {"action": "import_videos", "_selected_action": [dataset.pk]})
    assert changelist.status_code == 302 and changelist.url.endswith(f"/{dataset.pk}/import/")
    assert Label.objects.count() == 0
