"""Django's Redis cache, with one client per server kept for the life of the process.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache call. The
connections come from a shared pool either way, but building the client copies redis-py's table
of some 170 response callbacks, which cost about half a millisecond of CPU per call: two cache
calls per throttled request was the largest single cost of a set submission after the database.
A ``redis.Redis`` is safe to share between threads (each command borrows a pooled connection),
so one per pool is enough.
"""
from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            # a race here builds two clients on the same pool, and either one is fine to keep
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient


def counter_add(cache, key: str, timeout: int) -> int:
    """Add one to the counter ``key`` and return its new value; the counter is dropped ``timeout``
    seconds after its first count. On Redis this is one round trip (``INCR`` and ``EXPIRE NX`` in a
    pipeline); on other caches ``add`` then ``incr``."""
    if isinstance(cache, SharedClientRedisCache):
        key = cache.make_and_validate_key(key)
        pipe = cache._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, timeout, nx=True)
        return pipe.execute()[0]
    cache.add(key, 0, timeout)
    return cache.incr(key)
