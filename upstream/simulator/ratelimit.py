"""Sliding-window flow control per (access key, operation), as the platform's API gateway does."""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class SlidingWindowLimiter:
    """At most ``per_second`` accepted requests per key in any sliding window of one second.

    A rate below 1 means one request per 1/rate seconds; 0 switches the limit off. Refused requests do not
    count against the window, so a client that waits for Retry-After gets in.
    """

    def __init__(self, per_second: float) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self.set_rate(per_second)

    @property
    def per_second(self) -> float:
        return self._per_second

    def set_rate(self, per_second: float) -> None:
        """Change the limit; the windows start afresh."""
        if per_second < 0 or math.isnan(per_second) or math.isinf(per_second):
            raise ValueError("per_second must be a finite number >= 0")
        with self._lock:
            self._per_second = float(per_second)
            if per_second >= 1:
                self._window, self._allowed = 1.0, int(per_second)
            elif per_second > 0:
                self._window, self._allowed = 1.0 / per_second, 1
            self._windows.clear()

    def acquire(self, key: tuple[str, str], now: float | None = None) -> int | None:
        """Admit one request: None if allowed, else the whole seconds to wait (>= 1)."""
        if self._per_second == 0:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - self._window:
                window.popleft()
            if len(window) < self._allowed:
                window.append(now)
                return None
            return max(1, math.ceil(window[0] + self._window - now))
