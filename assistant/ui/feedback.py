"""Thumbs up/down on answers and staff corrections, kept in one SQLite file; exported as an eval suite.

This file is the only place chat text is written: a question and its answer are stored only when a runner rates
the answer (or staff save a case), never logged.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from assistant.evaluation.dataset import EXPECTED_BEHAVIORS

Rating = Literal["up", "down", "staff"]
FILE_NAME = "feedback.sqlite3"
MAX_QUESTION = 4000
MAX_ANSWER = 20_000
# Answer.behavior -> the suite's expected_behavior; no_information has no equivalent (staff must choose).
OBSERVED_TO_EXPECTED = {
    "answer": "answer",
    "urgent_referral": "urgent_referral",
    "out_of_scope": "out_of_scope_decline",
    "refuse_dosing": "refuse_dosing",
    "clarify": "clarify",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    rating TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    behavior TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '',
    corrected_answer TEXT NOT NULL DEFAULT '',
    key_facts TEXT NOT NULL DEFAULT '',
    expected_behavior TEXT NOT NULL DEFAULT '',
    reviewed REAL,
    reason TEXT NOT NULL DEFAULT ''
)
"""
# What a runner may say was wrong with an answer after a thumbs-down: a fixed list, so no free text is kept.
REASONS = (
    "It did not answer my question",
    "Something in it seems wrong or unsafe",
    "Hard to understand",
    "Too long or repetitive",
)


class Entry(BaseModel):
    """One rated answer, with the staff correction once reviewed."""

    id: int
    created: float
    rating: Rating
    question: str
    answer: str
    behavior: str
    sources: list[str] = Field(default_factory=list, description="Cited document ids.")
    corrected_answer: str = ""
    key_facts: list[str] = Field(default_factory=list, description="'a|b' alternatives, as must_mention.")
    expected_behavior: str = ""
    reviewed: float | None = None
    reason: str = Field("", description="What the runner said was wrong, one of REASONS (thumbs-down only).")


class FeedbackStore:
    """SQLite-backed feedback; one short connection per call so Gradio worker threads never share one."""

    def __init__(self, path: Path) -> None:
        """Opens nothing yet: a damaged or locked file costs the ratings (each says so), never the app's start."""
        self.path = path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> FeedbackStore:
        return cls(data_dir / FILE_NAME)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            db.row_factory = sqlite3.Row
            db.execute(_SCHEMA)
            if "reason" not in {r["name"] for r in db.execute("PRAGMA table_info(feedback)")}:  # a file from before
                db.execute("ALTER TABLE feedback ADD COLUMN reason TEXT NOT NULL DEFAULT ''")
            yield db

    def add(self, rating: Rating, question: str, answer: str, behavior: str, sources: list[str]) -> int:
        """Store one rating; each field is cut to its bound (the chat refuses longer questions before this)."""
        row = (time.time(), rating, question[:MAX_QUESTION], answer[:MAX_ANSWER], behavior[:40],
               "\n".join(s[:200] for s in sources[:50]))
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO feedback (created, rating, question, answer, behavior, sources) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cur.lastrowid or 0)

    def add_reason(self, entry_id: int, reason: str) -> None:
        """What was wrong with a thumbed-down answer; only one of ``REASONS`` is accepted."""
        if reason not in REASONS:
            raise ValueError(f"reason must be one of: {'; '.join(REASONS)}")
        with self._db() as db:
            cur = db.execute("UPDATE feedback SET reason = ? WHERE id = ? AND rating = 'down'", (reason, entry_id))
            if cur.rowcount == 0:
                raise KeyError(entry_id)

    def review(self, entry_id: int, corrected_answer: str, key_facts: list[str], expected_behavior: str) -> Entry:
        """Store the staff correction; ``expected_behavior`` must be one of the suite format's behaviours."""
        if expected_behavior not in EXPECTED_BEHAVIORS:
            raise ValueError(f"expected behaviour must be one of: {', '.join(EXPECTED_BEHAVIORS)}")
        facts = [f.strip() for f in key_facts if f.strip().strip("|")]
        with self._db() as db:
            cur = db.execute(
                "UPDATE feedback SET corrected_answer = ?, key_facts = ?, expected_behavior = ?, reviewed = ? "
                "WHERE id = ?",
                (corrected_answer.strip(), "\n".join(facts), expected_behavior, time.time(), entry_id),
            )
            if cur.rowcount == 0:
                raise KeyError(entry_id)
        return self.get(entry_id)

    def get(self, entry_id: int) -> Entry:
        with self._db() as db:
            row = db.execute("SELECT * FROM feedback WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise KeyError(entry_id)
        return _entry(row)

    def entries(self, limit: int | None = None) -> list[Entry]:
        """Newest first."""
        sql = "SELECT * FROM feedback ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        with self._db() as db:
            return [_entry(r) for r in db.execute(sql).fetchall()]


def _entry(row: sqlite3.Row) -> Entry:
    data: dict[str, Any] = dict(row)
    for key in ("sources", "key_facts"):
        data[key] = [s for s in str(data[key]).split("\n") if s]
    return Entry.model_validate(data)


def to_case(entry: Entry, include_unreviewed: bool = False) -> dict[str, Any] | None:
    """The eval case for one entry: reviewed entries always; liked ones with ``include_unreviewed``."""
    expected = entry.expected_behavior
    if not expected:
        if not (include_unreviewed and entry.rating == "up"):
            return None
        expected = OBSERVED_TO_EXPECTED.get(entry.behavior, "")
        if not expected:
            return None
    case: dict[str, Any] = {
        "id": f"FB{entry.id:04d}",
        "category": "feedback",
        "question": entry.question,
        "expected_behavior": expected,
    }
    if entry.key_facts:
        case["must_mention"] = list(entry.key_facts)
    return case


def export_suite(store: FeedbackStore, path: Path, name: str = "feedback", include_unreviewed: bool = False) -> int:
    """Write the entries as a suite file (the format of ``evals/suites/*.yaml``); returns the number of cases."""
    cases = [c for e in reversed(store.entries()) if (c := to_case(e, include_unreviewed))]
    if not cases:
        return 0
    header = ("# Exported from runner feedback and staff corrections (knee-assistant feedback export).\n"
              "# A regression suite: every case must pass (case_pass_rate 1.0); lower it only on purpose.\n")
    suite = {"name": name, "thresholds": {"case_pass_rate": 1.0}, "cases": cases}
    body = yaml.safe_dump(suite, sort_keys=False, allow_unicode=True, width=120)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")
    return len(cases)
