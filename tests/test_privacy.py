"""Privacy: no chat text in logs by default; opt-in transcripts are redacted and purgeable."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant import Settings, build_assistant
from assistant.cli import app
from assistant.providers.embeddings import LocalEmbeddings
from assistant.safety.privacy import TranscriptStore, parse_age, redact

SECRET = "my name is Jane Doe, jane.doe@example.org, +44 7700 900123, my kneecap hurts on stairs"


def test_redaction() -> None:
    text = redact(SECRET)
    assert "Jane" not in text and "example.org" not in text and "7700" not in text
    assert "[email]" in text and "[phone]" in text and "[name]" in text and "kneecap" in text


def test_no_chat_text_in_logs_and_nothing_stored_by_default(
    settings: Settings, embeddings: LocalEmbeddings, articles: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot = build_assistant(settings, embeddings=embeddings)
    bot.ingest([articles])
    with caplog.at_level(logging.DEBUG):
        bot.ask(SECRET)
    assert "Jane" not in caplog.text and "kneecap hurts" not in caplog.text
    assert not (settings.paths.data_dir / "transcripts.sqlite3").exists()


def test_opt_in_transcripts_are_redacted_and_purged(
    settings: Settings, embeddings: LocalEmbeddings, articles: Path
) -> None:
    settings.privacy.store_transcripts = True
    bot = build_assistant(settings, embeddings=embeddings)
    bot.ingest([articles])
    bot.ask(SECRET)
    path = settings.paths.data_dir / "transcripts.sqlite3"
    rows = TranscriptStore(path).rows()
    assert len(rows) == 1 and "Jane" not in rows[0][2] and "[email]" in rows[0][2]
    with sqlite3.connect(path) as db:
        db.execute("UPDATE transcripts SET at = ?", (time.time() - 40 * 86400,))
    result = CliRunner().invoke(app, ["privacy", "purge", "--older-than", "30d",
                                      "--data-dir", str(settings.paths.data_dir)])
    assert result.exit_code == 0 and "removed 1" in result.output
    assert TranscriptStore(path).rows() == []


def test_bad_age_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="30d"):
        parse_age("a month")
