"""Fuzz every API operation from the OpenAPI schema (schemathesis): no 5xx, no unhandled error.

Requests carry a staff user's basic-auth credentials (so the fuzzing reaches the views' logic,
not only the permission check) and, for the worker API, a valid annotator-link token.
"""
from __future__ import annotations

import base64

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from backend.config.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def keep_test_connection():
    """Like Django's test client: the WSGI app must not close the test transaction's connection."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(db, django_user_model):
    from backend.crowd.links import worker_link_token
    from backend.crowd.services import worker_get_or_create
    from backend.videos.services import dataset_create

    django_user_model.objects.create_user(username="fuzz", password="fuzz-pass-123", is_staff=True,
                                          is_superuser=True)
    dataset_create(name="synthetic")
    worker = worker_get_or_create(provider="inhouse", external_id="fuzzer")
    basic = base64.b64encode(b"fuzz:fuzz-pass-123").decode()
    return {"Authorization": f"Basic {basic}", "X-Worker-Token": worker_link_token(worker=worker)}


OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_server_errors(operation, credentials):
    @given(case=operation.as_strategy())
    @settings(max_examples=8, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(headers=credentials)
        assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: " \
                                           f"{response.text[:300]}"

    run()


def test_every_operation_is_fuzzed():
    labels = {op.label for op in OPERATIONS}
    assert "POST /api/work/{set_id}/submit/".replace("{set_id}", "sets/{set_id}") in labels or any(
        "submit" in label for label in labels)
    assert len(labels) > 30
