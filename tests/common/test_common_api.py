"""API plumbing shared by every app: OpenAPI schema and docs, staff-only routes, health, admin pages."""
from __future__ import annotations

from unittest import mock

import pytest


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


@pytest.mark.parametrize("model", ["videos/dataset", "videos/video", "vocabulary/action",
                                   "vocabulary/vocabularyevent", "labels/label", "common/job"])
def test_admin_changelists(client, staff_user, dataset, model):
    client.force_login(staff_user)
    response = client.get(f"/admin/{model}/?q=a")
    assert response.status_code == 200
