"""Opt-in transcript storage with redaction, and the retention purge. Off by default: nothing is stored."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"(?<!\w)\+?\d[\d\s().-]{7,}\d(?!\w)"), "[phone]"),
    (re.compile(r"\b(my name is|i am|i'm|this is|call me)\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?", re.I), r"\1 [name]"),
    (re.compile(r"\b(Mr|Mrs|Ms|Miss|Dr)\.?\s+[A-Z][a-z]+"), r"\1 [name]"),
)
_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")


def redact(text: str) -> str:
    """Emails, phone numbers and name-like phrases replaced by placeholders."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def parse_age(text: str) -> float:
    """'30d', '12h' or '45m' as seconds; anything else is a ValueError with the accepted forms."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"'{text}' is not an age like 30d, 12h or 45m")
    return int(match.group(1)) * {"d": 86400, "h": 3600, "m": 60}[match.group(2)]


class TranscriptStore:
    """SQLite table of redacted question/answer pairs, kept only when staff switch it on."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS transcripts (at REAL NOT NULL, behavior TEXT NOT NULL,"
                " question TEXT NOT NULL, answer TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=5)

    def add(self, question: str, answer: str, behavior: str) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO transcripts VALUES (?, ?, ?, ?)",
                       (time.time(), behavior, redact(question), redact(answer)))

    def rows(self) -> list[tuple[float, str, str, str]]:
        with self._connect() as db:
            return list(db.execute("SELECT at, behavior, question, answer FROM transcripts ORDER BY at"))

    def purge(self, older_than_s: float) -> int:
        """Delete entries older than the given age; returns how many went."""
        with self._connect() as db:
            cur = db.execute("DELETE FROM transcripts WHERE at < ?", (time.time() - older_than_s,))
            return int(cur.rowcount)
