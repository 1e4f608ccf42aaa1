"""Every MTurk test runs against a Stubber (no network) and checks that no stubbed call is left over."""
from __future__ import annotations

from unittest import mock

import pytest

from tests.mturk.mturk_helpers import SITE, SUBMIT_ORIGIN, MTurkStub


@pytest.fixture
def stub(monkeypatch, settings):
    settings.SITE_URL = SITE
    settings.MMIT_MTURK_SUBMIT_ORIGINS = [SUBMIT_ORIGIN, "https://www.mturk.com"]
    fake = MTurkStub()
    monkeypatch.setattr("backend.mturk.gateway.gateway_for", fake.gateway_for)
    with fake.stubber:
        yield fake
        fake.done()


@pytest.fixture(autouse=True)
def enqueued():
    """The Celery tasks the code enqueues, recorded instead of sent to a broker."""
    calls: list[tuple[str, tuple]] = []
    names = ["publish_batch", "review", "sync_worker_block"]
    patches = [mock.patch(f"workers.tasks.mturk.{name}.delay", side_effect=lambda *a, _n=name: calls.append((_n, a)))
               for name in names]
    for p in patches:
        p.start()
    yield calls
    for p in patches:
        p.stop()
