"""Staff API and admin of datasets and video imports."""
from __future__ import annotations

import pytest

from backend.common.models import Job
from backend.labels.models import Label
from backend.videos.models import Dataset, Video


pytestmark = pytest.mark.django_db


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
