"""A Chroma server that hangs (SIGSTOP) or is gone costs at most ``store.timeout_s`` per call and becomes
``BackendUnavailable``: the answer slot is freed instead of waiting as long as the server does (issue 23: 90 s)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import build_assistant
from assistant.errors import BackendUnavailable
from assistant.providers.embeddings import LocalEmbeddings
from tests.chroma_servers import chroma_server
from tests.conftest import make_settings

BUDGET_S = 2.0
QUESTION = "What helps kneecap pain?"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with chroma_server(tmp_path / "server") as running:
        yield running


def _timed(call: object) -> tuple[float, BaseException | None, bool]:
    """Run ``call`` in a thread given 30 s: (seconds, what it raised, whether it is still running)."""
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            call()  # type: ignore[operator]
        except BaseException as exc:
            outcome["error"] = exc

    start = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    return time.monotonic() - start, outcome.get("error"), worker.is_alive()


def test_a_hung_chroma_server_costs_the_time_budget_not_the_hang(
    server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path, articles: Path, embeddings: LocalEmbeddings
) -> None:
    url, proc = server
    settings = make_settings(tmp_path / "data", articles)
    settings.store.url, settings.store.timeout_s = url, BUDGET_S
    bot = build_assistant(settings, embeddings=embeddings)
    assert bot.ingest([articles]).ok
    assert bot.ask(QUESTION).citations

    os.kill(proc.pid, signal.SIGSTOP)
    try:
        seconds, error, hung = _timed(lambda: bot.ask(QUESTION))
        assert not hung, "the answer waited for the stopped server"
        assert isinstance(error, BackendUnavailable), error
        assert f"did not answer within {BUDGET_S:g} s" in str(error) and seconds < 4 * BUDGET_S, (seconds, error)

        seconds, error, hung = _timed(lambda: build_assistant(settings, embeddings=embeddings))
        assert not hung and isinstance(error, BackendUnavailable) and seconds < 4 * BUDGET_S, (seconds, error)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert bot.ask(QUESTION).citations, "answers come back with the server"

    proc.terminate()
    proc.wait(timeout=10)
    seconds, error, hung = _timed(lambda: bot.ask(QUESTION))
    assert not hung and isinstance(error, BackendUnavailable) and "cannot be reached" in str(error), error


def test_server_mode_index_commands_work_or_refuse_in_one_line(
    server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path, articles: Path, embeddings: LocalEmbeddings
) -> None:
    from assistant.errors import ConfigError
    from assistant.ingest.backup import import_index
    from assistant.ingest.lifecycle import rebuild_index

    url, _ = server
    settings = make_settings(tmp_path / "data", articles)
    settings.store.url = url
    bot = build_assistant(settings, embeddings=embeddings)
    assert any("holds no documents" in p and url in p for p in bot.verify_index())
    assert bot.ingest([articles]).ok
    assert bot.verify_index() == [] and bot.index_status()["documents"] == 3
    with pytest.raises(ConfigError) as refused:
        rebuild_index(settings, embeddings)
    assert url in str(refused.value) and "ingest --prune" in str(refused.value)
    assert not (tmp_path / "data" / "chroma").exists(), "nothing was built where the app never reads"
    with pytest.raises(ConfigError, match="index import writes the local index"):
        import_index(settings, embeddings, tmp_path / "backup.jsonl")
