"""The Redis cache keeps one client per server instead of building one per call."""
from __future__ import annotations

import threading

from django.conf import settings

from backend.common.cache import SharedClientRedisCache
from tests.helpers import redis_db_url


def _cache():
    # the Redis that CI and the development machine run; the test's own database number
    url = redis_db_url(settings.REDIS_URL or "redis://127.0.0.1:6379", 14)
    return SharedClientRedisCache(url, {"KEY_PREFIX": "cache-test"})


def test_one_client_serves_every_call_and_thread():
    cache = _cache()
    cache.clear()
    first = cache._cache.get_client(write=True)
    assert cache._cache.get_client() is first  # one server: reads and writes share it
    cache.set("n", 1, 30)
    errors = []

    def bump():
        try:
            for _ in range(50):
                cache.incr("n")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and cache.get("n") == 201
    assert cache.add("fresh", {"a": [1, 2]}, 30) and cache.get("fresh") == {"a": [1, 2]}
    assert cache._cache.get_client(write=True) is first
    cache.clear()


def test_the_setting_uses_it_when_redis_is_configured():
    backend = settings.CACHES["default"]["BACKEND"]
    if settings.REDIS_URL:
        assert backend == "backend.common.cache.SharedClientRedisCache"
    else:
        assert backend.endswith("LocMemCache")


def test_the_submit_throttle_counts_on_the_backend_itself():
    from django.core.cache import caches

    from backend.crowd.api import WorkerThrottle

    assert WorkerThrottle().cache is caches["default"]
