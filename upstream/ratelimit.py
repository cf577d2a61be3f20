"""A request-rate limiter shared by every process through Redis (GCRA with reservations).

The upstream allows N requests per second per (access key, operation) and answers 429 beyond that. All
the portal's workers draw from one schedule per (AK, operation) kept in Redis: each `acquire()` runs one
Lua script that reads Redis' own clock (`TIME`, so hosts' clocks do not matter), reserves the next free
slot, 1/N s (plus a 2 % headroom, see DEFAULT_HEADROOM) after the previous one, and returns how long to
wait for it; the caller sleeps exactly that long. Slots never come closer than 1/N s, so at most N calls
start in any one-second window, and a sequential caller still gets 98 % of N per second: one round trip per
call, no polling.

If Redis cannot be reached the limiter keeps going on a per-process schedule for a while (logged), since
the client also retries 429s: a Redis outage must not stop the portal from talking to the upstream.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "upstream:ratelimit"
# Slots are spaced (1 + headroom)/rate apart. The upstream counts arrivals in a sliding one-second window, and
# arrivals jitter by a few ms (sleep overshoot, scheduling, the network): spaced exactly 1/rate apart, the
# (rate+1)-th call can land a hair inside the first call's second and get a 429 that costs a whole second.
# 2 % (20 ms per second at any rate) absorbs that jitter and keeps 98 % of the allowed throughput.
DEFAULT_HEADROOM = 0.02
REDIS_RETRY_SECONDS = 15

# KEYS[1]: the schedule key. ARGV[1]: emission interval (µs); ARGV[2]: burst tolerance (µs);
# ARGV[3]: the longest acceptable wait (µs; negative: any). The key holds the theoretical arrival time
# (TAT) of the next request in µs of Redis time. Returns {granted (1/0), wait µs, slot start µs}.
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local start = tat - tolerance
if start < now then
  start = now
end
local wait = start - now
if max_wait >= 0 and wait > max_wait then
  return {0, wait, start}
end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {1, wait, start}
"""


class RateLimitWaitTooLong(Exception):
    """The next free slot is further away than the caller agreed to wait; nothing was reserved."""

    def __init__(self, operation: str, wait: float) -> None:
        self.operation = operation
        self.wait = wait
        super().__init__(f"The next upstream slot for {operation} is {wait:.1f} s away.")


@dataclass(frozen=True)
class Slot:
    """A reserved start time: `wait` seconds from now; `at` in seconds of the limiter's clock."""

    wait: float
    at: float


@cache
def redis_client(url: str) -> redis.Redis:
    """One client (one connection pool) per URL per process; redis-py re-creates connections after fork."""
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


class RateLimiter:
    """At most `rate` calls per second per operation, for everyone sharing `scope` (the access key).

    `rate` 0 (or less) switches the limiter off. `burst` > 1 lets that many calls through at once after a
    quiet spell (GCRA burst tolerance); the default 1 spaces every call (1 + headroom)/rate s apart, which
    is what keeps any one-second window at `rate` calls.
    """

    def __init__(
        self,
        rate: float,
        *,
        scope: str,
        redis_url: str | None = None,
        client: redis.Redis | None = None,
        burst: int = 1,
        headroom: float = DEFAULT_HEADROOM,
        key_prefix: str = KEY_PREFIX,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1.")
        self.rate = float(rate)
        self.scope = scope
        self.burst = burst
        self.key_prefix = key_prefix
        self._sleep = sleep
        self._client = client if client is not None else (redis_client(redis_url) if redis_url else None)
        self._script = self._client.register_script(GCRA_SCRIPT) if self._client is not None else None
        if not 0 <= headroom < 0.05:
            raise ValueError("headroom must be between 0 and 0.05 (a share of the rate given up).")
        self.headroom = headroom
        # µs; rounded up so that `rate` slots never fit into less than one second.
        self._interval_us = math.ceil(1_000_000 * (1 + headroom) / self.rate) if self.enabled else 0
        self._tolerance_us = self._interval_us * (burst - 1)
        self._local_lock = threading.Lock()
        self._local_tat: dict[str, int] = {}
        self._redis_retry_at = 0.0

    @classmethod
    def from_settings(cls, *, scope: str | None = None) -> RateLimiter:
        from django.conf import settings

        return cls(
            settings.UPSTREAM_RATE_LIMIT,
            scope=scope or settings.UPSTREAM_AK,
            redis_url=settings.REDIS_URL,
        )

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def key(self, operation: str) -> str:
        return f"{self.key_prefix}:{self.scope}:{operation}"

    def reserve(self, operation: str, max_wait: float | None = None) -> Slot:
        """Reserve the next slot for `operation` without sleeping (raises if it is beyond `max_wait`)."""
        if not self.enabled:
            return Slot(wait=0.0, at=time.time())
        max_wait_us = -1 if max_wait is None else int(max_wait * 1_000_000)
        if self._script is not None and time.monotonic() >= self._redis_retry_at:
            try:
                granted, wait_us, start_us = self._script(
                    keys=[self.key(operation)], args=[self._interval_us, self._tolerance_us, max_wait_us]
                )
            except redis.RedisError as exc:
                # Do not pay for a connection attempt on every call while Redis is away.
                self._redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
                logger.warning(
                    "Upstream rate limiter: Redis unavailable (%s); limiting per process for %d s.",
                    exc,
                    REDIS_RETRY_SECONDS,
                )
                granted, wait_us, start_us = self._reserve_locally(operation, max_wait_us)
        else:
            granted, wait_us, start_us = self._reserve_locally(operation, max_wait_us)
        if not granted:
            raise RateLimitWaitTooLong(operation, wait_us / 1_000_000)
        return Slot(wait=wait_us / 1_000_000, at=start_us / 1_000_000)

    def acquire(self, operation: str, timeout: float | None = None) -> Slot:
        """Block until `operation` may start; returns the slot (its `wait` is the time slept)."""
        slot = self.reserve(operation, max_wait=timeout)
        if slot.wait > 0:
            self._sleep(slot.wait)
        return slot

    def reset(self, operation: str) -> None:
        """Forget the schedule of `operation` (tests)."""
        self._local_tat.pop(operation, None)
        if self._client is not None:
            self._client.delete(self.key(operation))

    def _reserve_locally(self, operation: str, max_wait_us: int) -> tuple[int, int, int]:
        """The same GCRA on this process' clock, for when Redis is out of reach."""
        with self._local_lock:
            now = int(time.time() * 1_000_000)
            tat = max(self._local_tat.get(operation, now), now)
            start = max(tat - self._tolerance_us, now)
            wait = start - now
            if 0 <= max_wait_us < wait:
                return 0, wait, start
            self._local_tat[operation] = tat + self._interval_us
            return 1, wait, start
