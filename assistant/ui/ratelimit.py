"""Admission of questions: a per-session sliding-window limit, so one browser tab cannot monopolise the queue, and a
gate that answers a few questions at once, holds a bounded line of others and turns the rest away politely."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

WINDOW_S = 60.0
BUSY = "The assistant is busy right now. Please try again in a moment."


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


class AnswerGate:
    """At most ``running`` questions answered at once and ``waiting`` more held in line; past that, busy at once.

    Gradio's own full queue turns requests away with its generic error toast; this gate lets the chat put ``BUSY``
    in the conversation (and the API raise it) within milliseconds instead.
    """

    def __init__(self, running: int, waiting: int) -> None:
        self.capacity = running + waiting
        self._slots = threading.BoundedSemaphore(running)
        self._inside = 0
        self._lock = threading.Lock()

    @property
    def inside(self) -> int:
        """Questions being answered or waiting for a slot."""
        return self._inside

    @contextmanager
    def enter(self) -> Iterator[bool]:
        """Yield ``False`` at once when the line is full; else wait for a free slot and yield ``True``."""
        with self._lock:
            admitted = self._inside < self.capacity
            self._inside += admitted
        if not admitted:
            yield False
            return
        try:
            with self._slots:
                yield True
        finally:
            with self._lock:
                self._inside -= 1
