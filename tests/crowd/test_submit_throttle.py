"""Submissions per worker are throttled in fixed windows, counted in the cache (Redis or memory);
a cache outage lets submissions through."""
from __future__ import annotations

import uuid

import pytest
from django.conf import settings as django_settings
from django.core.cache.backends.locmem import LocMemCache

from backend.common.cache import SharedClientRedisCache, counter_add
from backend.crowd.api import WorkerThrottle
from tests.helpers import redis_db_url

pytestmark = pytest.mark.django_db


def _redis(db: int) -> SharedClientRedisCache:
    url = redis_db_url(django_settings.REDIS_URL or "redis://127.0.0.1:6379", db)
    return SharedClientRedisCache(url, {"KEY_PREFIX": f"throttle-{uuid.uuid4().hex}"})


@pytest.fixture(params=["redis", "memory"])
def counters(request, monkeypatch):
    cache = _redis(14) if request.param == "redis" else LocMemCache(f"throttle-{uuid.uuid4().hex}", {})
    monkeypatch.setattr(WorkerThrottle, "cache", cache)
    monkeypatch.setattr(WorkerThrottle, "THROTTLE_RATES", {"submit": "3/min"})
    clock = {"now": 60 * 16_667 + 20.0}  # 20 s into a minute
    monkeypatch.setattr(WorkerThrottle, "timer", lambda self: clock["now"])
    return clock


def _submit(worker):
    # a body the parser refuses: the throttle counts the request before anything is read
    return worker.client.post(f"/api/work/sets/{uuid.uuid4()}/submit/", {"answers": []}, format="json")


def test_a_worker_over_the_rate_waits_for_the_next_window(counters, make_worker):
    alice, bob = make_worker("alice"), make_worker("bob")
    assert [_submit(alice).status_code for _ in range(3)] == [400] * 3
    refused = _submit(alice)
    assert refused.status_code == 429 and int(refused["Retry-After"]) == 40
    assert _submit(bob).status_code == 400  # counted per worker
    counters["now"] += 40  # the next minute
    assert _submit(alice).status_code == 400


def test_a_cache_outage_lets_submissions_through(monkeypatch, make_worker):
    monkeypatch.setattr(WorkerThrottle, "cache", SharedClientRedisCache("redis://127.0.0.1:1/0", {}))
    monkeypatch.setattr(WorkerThrottle, "THROTTLE_RATES", {"submit": "1/min"})
    alice = make_worker("alice")
    assert [_submit(alice).status_code for _ in range(3)] == [400] * 3


def test_a_redis_counter_expires_a_fixed_time_after_its_first_count():
    cache = _redis(14)
    assert [counter_add(cache, "window", 61) for _ in range(3)] == [1, 2, 3]
    key = cache.make_and_validate_key("window")
    client = cache._cache.get_client(key, write=True)
    assert 55 <= client.ttl(key) <= 61
    client.expire(key, 5)
    assert counter_add(cache, "window", 61) == 4
    assert client.ttl(key) <= 5  # a later count keeps the first count's expiry
    client.delete(key)
