"""Every MTurk test runs against a Stubber (no network) and checks that no stubbed call is left over."""
from __future__ import annotations

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
def enqueued(monkeypatch):
    """The Celery tasks the code enqueues, recorded (by short name) instead of sent to a broker."""
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr("backend.common.background.task_send",
                        lambda name, args=(), kwargs=None: calls.append((name.rsplit(".", 1)[-1], tuple(args))))
    return calls
