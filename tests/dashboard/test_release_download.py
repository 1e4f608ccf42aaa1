"""A finished release downloads as a ZIP of its folder (viewers of its dataset only); the overview's
counters and the releases table re-render alone for the pages to poll."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from backend.annotation.models import Answer
from backend.releases.models import Release
from backend.releases.services import release_export
from backend.videos.models import DatasetRole

pytestmark = pytest.mark.django_db


@pytest.fixture
def curator(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def released(engine):
    return release_export(dataset=engine["dataset"])


def _zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_a_release_downloads_as_a_zip_of_its_folder(released, curator):
    response = curator.get(f"/dashboard/synthetic/releases/{released.version}/download/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="synthetic-v{released.version}.zip"'
    archive = _zip(response)
    folder = Path(released.path)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files and sorted(n.split("/", 1)[1] for n in archive.namelist()) == files
    for name in files:
        assert archive.read(f"{folder.name}/{name}") == (folder / name).read_bytes()


def test_the_releases_page_links_each_downloadable_release(released, curator):
    page = curator.get("/dashboard/synthetic/releases/").content.decode()
    assert f'href="/dashboard/synthetic/releases/{released.version}/download/"' in page
    rows = curator.get("/dashboard/synthetic/live/releases/")
    assert rows.status_code == 200
    body = rows.content.decode()
    assert f'data-release="{released.version}"' in body and "/download/" in body and "<html" not in body


def test_a_release_without_its_folder_or_elsewhere_is_not_served(released, curator, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("not a release")
    Release.objects.filter(pk=released.pk).update(path=str(elsewhere))
    response = curator.get(f"/dashboard/synthetic/releases/{released.version}/download/")
    assert response.status_code == 404
    rows = curator.get("/dashboard/synthetic/live/releases/").content.decode()
    assert "/download/" not in rows and "not under var/releases" in rows
    assert curator.get("/dashboard/synthetic/releases/99/download/").status_code == 404


def test_downloads_are_for_staff_with_a_role_in_the_dataset(released, client, django_user_model):
    url = f"/dashboard/synthetic/releases/{released.version}/download/"
    assert client.get(url).status_code == 302  # signed out: to the sign-in page
    outsider = django_user_model.objects.create_user(username="outsider", password="pw-outsider-1", is_staff=True)
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    assert client.get("/dashboard/synthetic/live/overview/").status_code == 403
    DatasetRole.objects.create(user=outsider, dataset=released.dataset, role="viewer")
    response = client.get(url)
    assert response.status_code == 200 and _zip(response).namelist()
    non_staff = django_user_model.objects.create_user(username="annotator", password="pw-annotator-1")
    client.force_login(non_staff)
    assert client.get(url).status_code == 302


def test_the_overview_counters_render_alone(engine, curator, make_worker):
    from tests.annotation.bench import truth_of

    before = curator.get("/dashboard/synthetic/live/overview/")
    assert before.status_code == 200
    assert b'data-count="answers">0<' in before.content and b"<html" not in before.content
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    w.submit(payload["id"], {i["id"]: truth_of(i["id"], engine) for i in payload["items"]})
    after = curator.get("/dashboard/synthetic/live/overview/").content.decode()
    answers = Answer.objects.filter(taskset__dataset=engine["dataset"]).count()
    assert answers > 0 and f'data-count="answers">{answers}<' in after
    assert curator.post("/dashboard/synthetic/live/overview/").status_code == 405
