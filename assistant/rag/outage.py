"""When the index, its server or the disk fails during a question: a worded answer that keeps the urgent advice.

Triage needs no index, so a red flag found in the message still gets the urgent referral; anything else gets a calm
"try again shortly" with the routine referral. The log gets one line per failure (no chat text, no traceback) and
one line when answers work again.
"""

from __future__ import annotations

import logging
import threading
import time

from assistant.prompts import PromptBook
from assistant.safety.referral import care_advice, referral_for
from assistant.safety.triage import triage
from assistant.schema import Answer, Behavior, Decision

log = logging.getLogger(__name__)
# A question asked this long after the last failure, and answered, means the backend is back.
DEGRADED_FOR_S = 60.0


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class OutageWatch:
    """Counts failures since the last good answer: ``ready`` / ``degraded``, with the log lines that go with it."""

    def __init__(self) -> None:
        self._failures = 0
        self._since: float | None = None
        self._last: float | None = None
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            self._failures += 1
            self._since = self._since or now
            self._last = now
            count = self._failures
        log.warning("answer failed (%d since the last good answer): %s", count, one_line(exc))

    def answered(self) -> None:
        with self._lock:
            if not self._failures:
                return
            count, since = self._failures, self._since or time.monotonic()
            self._failures, self._since, self._last = 0, None, None
        log.warning("answers work again after %d failure(s) over %.0f s", count, time.monotonic() - since)

    @property
    def state(self) -> str:
        with self._lock:
            recent = self._last is not None and time.monotonic() - self._last < DEGRADED_FOR_S
        return "degraded" if recent else "ready"


def unavailable_answer(prompts: PromptBook, question: str, exc: BaseException, limit: int) -> Answer:
    """The reply when the sources cannot be read: urgent advice for a red flag, else a calm retry message."""
    verdict = triage(question[:limit])
    decisions = [Decision(stage="backend", outcome="unavailable", reason=one_line(exc)), *verdict.decisions]
    behavior: Behavior = "unavailable"
    body = prompts.render("templates", "unavailable")
    if verdict.red_flags:
        behavior = "urgent_referral"
        body = f"{care_advice(prompts, verdict.findings, verdict.tier, verdict.subject)}\n\n{body}"
    tier = verdict.tier if verdict.tier in ("emergency", "same_day", "within_days") else "routine"
    referral = referral_for(behavior, prompts, tier=tier, subject=verdict.subject)
    return Answer(text=f"{body}\n\n**{referral}**", body=body, behavior=behavior, tier=tier, referral=referral,
                  decisions=decisions)
