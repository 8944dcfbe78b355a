"""Outages get words, not "Error" (issue 23, item 2): the runner chat, /ask, ratings and /health when the index,
its server or the feedback file fails. The failure is real: the store's query raises as a stopped server does."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest

from assistant import Assistant, build_assistant
from assistant.errors import BackendUnavailable
from assistant.providers.embeddings import LocalEmbeddings
from assistant.ui.app import WebApp, create_app, serve
from tests.chroma_servers import chroma_server
from tests.conftest import free_port, make_settings

RED_FLAG = "My calf is swollen and hot and my knee hurts since the long run"


def _break_store(bot: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args: Any, **kwargs: Any) -> Any:
        raise BackendUnavailable("Chroma server at http://127.0.0.1:9 cannot be reached")

    monkeypatch.setattr(bot._retriever, "retrieve", down)


def _handler(app: Any, name: str) -> Any:
    return next(f.fn for f in app.fns.values() if f.name == name)


@pytest.fixture
def served(assistant: Assistant) -> Iterator[tuple[httpx.Client, WebApp]]:
    web = create_app(assistant)
    port = free_port()
    serve(web, "127.0.0.1", port, block=False)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            yield http, web
    finally:
        web.close()


def test_chat_during_an_outage_keeps_the_question_and_the_urgent_advice(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    respond = _handler(create_app(assistant).runner, "respond")
    _break_store(assistant, monkeypatch)
    caplog.set_level(logging.WARNING)
    *_, (box, shown, _) = respond("What helps kneecap pain?", None, None)
    reply = shown[-1]["content"]
    assert box == "What helps kneecap pain?"  # kept, to send again
    assert "can't reach our reviewed sources" in reply and "class='referral'" in reply and "Error" not in reply
    *_, (box, shown, _) = respond(RED_FLAG, None, None)
    assert "urgent-alert" in shown[-1]["content"] and "checked today" in shown[-1]["content"]
    lines = [r for r in caplog.records if r.name == "assistant.rag.outage"]
    assert len(lines) == 2 and all(not r.exc_info for r in lines)
    assert "kneecap" not in " ".join(r.getMessage() for r in lines)  # no chat text in the log
    monkeypatch.undo()
    *_, (box, shown, _) = respond("What helps kneecap pain?", None, None)
    assert box == "" and "source-card" in shown[-1]["content"]
    assert "work again" in caplog.records[-1].getMessage()


def test_api_and_health_say_what_is_wrong(served: tuple[httpx.Client, WebApp], assistant: Assistant,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from gradio_client import Client

    http, _ = served
    assert http.get("/health").json() == {"status": "ready"}
    _break_store(assistant, monkeypatch)
    client = Client(str(http.base_url), verbose=False)
    answer = client.predict("What helps kneecap pain?", None, api_name="/ask")
    assert answer["behavior"] == "unavailable" and answer["referral"]
    assert client.predict(RED_FLAG, None, api_name="/ask")["behavior"] == "urgent_referral"
    degraded = http.get("/health")
    assert degraded.status_code == 503 and degraded.json() == {"status": "degraded"}
    monkeypatch.setattr(assistant._store, "count", lambda: 0)
    assert http.get("/health").json() == {"status": "down"}


def test_a_damaged_feedback_file_costs_ratings_not_the_app(assistant: Assistant) -> None:
    path = assistant.settings.paths.data_dir / "feedback.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    app = create_app(assistant).runner  # starts all the same
    respond, on_like = _handler(app, "respond"), _handler(app, "on_like")
    *_, (_, shown, state) = respond("What helps kneecap pain?", None, None)
    like = gr.LikeData(None, {"index": len(shown) - 1, "value": shown[-1], "liked": True})
    assert "could not be saved" in on_like(state, like, None)
    path.unlink()
    assert "saved" in on_like(state, like, None)  # the rating was not used up by the failure


def test_a_stopped_then_killed_chroma_server_gets_the_worded_reply(tmp_path: Path, articles: Path,
                                                                   embeddings: LocalEmbeddings) -> None:
    """The real outage: a Chroma server paused with SIGSTOP (a hang), then killed; the chat words both."""
    with chroma_server(tmp_path / "server") as (url, proc):
        settings = make_settings(tmp_path / "data", articles)
        settings.store.url, settings.store.timeout_s = url, 2.0
        bot = build_assistant(settings, embeddings=embeddings)
        assert bot.ingest([articles]).ok
        respond = _handler(create_app(bot).runner, "respond")
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            *_, (box, shown, _) = respond(RED_FLAG, None, None)
            assert time.monotonic() - started < 20  # the time budget, not the hang
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        assert box == RED_FLAG and "urgent-alert" in shown[-1]["content"]
        assert "can't reach our reviewed sources" in shown[-1]["content"]
        proc.kill()
        proc.wait(timeout=10)
        *_, (box, shown, _) = respond("What helps kneecap pain?", None, None)
        assert box == "What helps kneecap pain?" and "can't reach our reviewed sources" in shown[-1]["content"]
