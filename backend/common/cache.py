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
    """Add one to the counter ``key`` and return its new value; the counter expires ``timeout``
    seconds after its first count. On Redis that is one round trip: ``SET key 0 EX timeout NX``
    (which creates the counter with its expiry, or does nothing when it exists) and ``INCR``,
    pipelined. On other caches ``add`` then ``incr``.

    Should the counter expire between the two commands, ``INCR`` starts a new one without
    expiry: callers put their time window in the key, so such a counter is never counted on again
    (it only takes a little memory)."""
    if isinstance(cache, SharedClientRedisCache):
        key = cache.make_and_validate_key(key)
        pipe = cache._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incr(key)
        return pipe.execute()[1]
    cache.add(key, 0, timeout)
    return cache.incr(key)
