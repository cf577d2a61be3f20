"""Django's Redis cache, with one client per connection pool instead of one per operation.

django.core.cache.backends.redis builds a new `redis.Redis` for every get and set (`get_client`), and each
copies the ~170 response callbacks of the client class: ~0.1 ms an operation, and a page makes four or
five (session, access token, fragments). A `redis.Redis` is safe to share between threads (connections
come from its pool, which also notices a fork), so one per pool is kept.
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = super().get_client(key, write=write)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
