"""The command line through typer's runner: real index in a temp dir."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli import app

runner = CliRunner()


def test_ingest_ask_and_status(tmp_path: Path, articles: Path) -> None:
    data = str(tmp_path / "data")
    result = runner.invoke(app, ["ingest", str(articles), "--data-dir", data, "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.stdout)["added"]) == ["kneecap-pain", "outer-knee", "plain-note"]

    result = runner.invoke(app, ["ask", "what helps kneecap pain?", "--data-dir", data, "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["behavior"] == "answer" and answer["citations"] and answer["referral"]

    result = runner.invoke(app, ["index", "status", "--data-dir", data, "--json"])
    assert json.loads(result.stdout)["documents"] == 3


def test_chat_keeps_history(tmp_path: Path, articles: Path) -> None:
    data = str(tmp_path / "data")
    runner.invoke(app, ["ingest", str(articles), "--data-dir", data])
    result = runner.invoke(app, ["chat", "--data-dir", data], input="my outer knee hurts on long runs\nwhat helps?\n\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("you>") == 3
    assert "[1]" in result.output


def test_failed_file_gives_nonzero_exit_and_a_reason(tmp_path: Path, articles: Path) -> None:
    (articles / "empty.md").write_text("", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(articles), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 1
    assert "empty.md: file is empty" in result.output
