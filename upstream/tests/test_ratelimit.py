"""The shared rate limiter keeps every one-second window at the limit, across threads and processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings

from upstream.ratelimit import RateLimiter, RateLimitWaitTooLong

ROOT = Path(__file__).resolve().parents[2]

# Run by a separate Python process: say it is ready, read the common start time, then take `count` slots.
CHILD = """
import json, sys, time
from upstream.ratelimit import RateLimiter
url, prefix, rate, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
limiter = RateLimiter(rate, scope="test-ak", redis_url=url, key_prefix=prefix)
print("ready", flush=True)
start_at = float(sys.stdin.readline())
time.sleep(max(0.0, start_at - time.time()))
starts = []
for _ in range(count):
    slot = limiter.acquire("ListSubCustomers")
    starts.append([slot.at, time.time()])
print(json.dumps(starts))
"""


@pytest.fixture
def prefix():
    """A key prefix of its own, so that runs and parallel sessions do not share schedules."""
    value = f"test:ratelimit:{uuid.uuid4().hex}"
    yield value
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(f"{value}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def limiter(rate, prefix, **kwargs):
    return RateLimiter(rate, scope="test-ak", redis_url=settings.REDIS_URL, key_prefix=prefix, **kwargs)


def most_in_any_window(times, width=1.0):
    """The largest number of times falling into one half-open window [t, t + width)."""
    times = sorted(times)
    best, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] >= width:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_threads_and_processes_together_never_start_more_than_the_limit_in_any_second(prefix):
    rate, per_worker = 10, 6
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, settings.REDIS_URL, prefix, str(rate), str(per_worker)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            text=True,
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    start_at = time.time() + 0.2
    for child in children:
        child.stdin.write(f"{start_at}\n")
        child.stdin.flush()
    shared = limiter(rate, prefix)
    starts: list[list[float]] = []
    lock = threading.Lock()

    def worker():
        time.sleep(max(0.0, start_at - time.time()))
        for _ in range(per_worker):
            slot = shared.acquire("ListSubCustomers")
            with lock:
                starts.append([slot.at, time.time()])

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for child in children:
        out, _ = child.communicate(timeout=30)
        assert child.returncode == 0
        starts.extend(json.loads(out))

    total = 5 * per_worker
    assert len(starts) == total
    slots = [at for at, _ in starts]
    local_starts = [t for _, t in starts]
    # On the limiter's clock (Redis TIME) the bound is exact...
    assert most_in_any_window(slots) == rate
    # ...and the calls really started then: one clock on one machine, allowing for late wake-ups.
    assert most_in_any_window(local_starts, width=0.9) <= rate
    # Nobody was starved: all slots were taken back to back, close to the limit.
    span = max(slots) - min(slots)
    assert (total - 1) / span >= 0.95 * rate


def test_a_sequential_caller_gets_at_least_95_percent_of_the_limit(prefix):
    rate, pages = 10, 21
    shared = limiter(rate, prefix)
    started = time.perf_counter()
    for _ in range(pages):
        shared.acquire("ListSubCustomers")
        time.sleep(0.005)  # the request itself
    elapsed = time.perf_counter() - started
    # Steady state: the first call does not wait, so count the intervals between the pages.
    throughput = (pages - 1) / (elapsed - 0.005)
    assert 0.95 * rate <= throughput <= rate


def test_a_rate_of_zero_switches_the_limiter_off():
    off = RateLimiter(0, scope="test-ak", redis_url="redis://127.0.0.1:1/0")  # never contacted
    started = time.perf_counter()
    waits = [off.acquire("ListSubCustomers").wait for _ in range(200)]
    assert waits == [0.0] * 200
    assert time.perf_counter() - started < 0.1


def test_each_operation_and_each_access_key_has_its_own_schedule(prefix):
    two_per_second = limiter(2, prefix)
    assert two_per_second.reserve("ListSubCustomers").wait == 0
    assert two_per_second.reserve("ListSubCustomers").wait == pytest.approx(0.51, abs=0.05)
    assert two_per_second.reserve("ListPartnerBalances").wait == 0
    other_key = RateLimiter(2, scope="other-ak", redis_url=settings.REDIS_URL, key_prefix=prefix)
    assert other_key.reserve("ListSubCustomers").wait == 0
    assert two_per_second.key("ListSubCustomers") == f"{prefix}:test-ak:ListSubCustomers"


def test_a_caller_that_will_not_wait_that_long_reserves_nothing(prefix):
    two_per_second = limiter(2, prefix)
    two_per_second.reserve("ListSubCustomers")
    with pytest.raises(RateLimitWaitTooLong):
        two_per_second.reserve("ListSubCustomers", max_wait=0.1)
    # The refused call took no slot: the next one is still half a second away, not a whole second.
    assert two_per_second.reserve("ListSubCustomers").wait == pytest.approx(0.51, abs=0.05)


def test_without_redis_the_limiter_keeps_spacing_calls_within_the_process():
    local = RateLimiter(4, scope="test-ak", redis_url="redis://127.0.0.1:1/0")
    waits = [local.reserve("ListSubCustomers").wait for _ in range(3)]
    assert waits[0] == 0
    assert waits[2] == pytest.approx(2 * 1.02 / 4, abs=0.05)
