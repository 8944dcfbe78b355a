"""A per-session sliding-window limit on questions, so one browser tab cannot monopolise the queue."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0


class SessionRateLimiter:
    """At most ``per_minute`` questions per session key in any 60-second window."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_sessions: int = 10_000
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._max_sessions = max_sessions
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> float:
        """Record a question and return 0, or return the seconds to wait (the question is not recorded)."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= WINDOW_S:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(1.0, WINDOW_S - (now - hits[0]))
            hits.append(now)
            if len(self._hits) > self._max_sessions:
                self._forget_idle(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or now - h[-1] >= WINDOW_S]:
            del self._hits[key]


def too_fast_message(wait_s: float) -> str:
    return (f"You're asking faster than I can answer carefully. Please wait about {round(wait_s)} seconds and "
            "ask again.")
