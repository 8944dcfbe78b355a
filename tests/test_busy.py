"""Past the queue limit a runner is told, within a second, that the assistant is busy (issue 9)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from assistant import Assistant
from assistant.ui.app import create_app, serve
from assistant.ui.ratelimit import BUSY, AnswerGate
from assistant.ui.runner_chat import ANSWERS_AT_ONCE
from tests.conftest import free_port

SLOW_S = 3.0


def test_gate_answers_some_holds_some_and_turns_the_rest_away() -> None:
    gate = AnswerGate(running=1, waiting=1)
    release, holding, waited = threading.Event(), threading.Event(), []

    def first() -> None:
        with gate.enter() as admitted:
            assert admitted
            holding.set()
            release.wait(5)

    def second() -> None:
        with gate.enter() as admitted:
            waited.append(admitted)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert holding.wait(5)
    threads[1].start()
    deadline = time.monotonic() + 5
    while gate.inside < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.perf_counter()
    with gate.enter() as admitted:
        assert not admitted and time.perf_counter() - start < 0.1
    release.set()
    for t in threads:
        t.join(5)
    assert waited == [True] and gate.inside == 0


def _slow(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers that take SLOW_S, so requests pile up behind them."""
    real = assistant.ask

    def ask(*args: Any, **kwargs: Any) -> Any:
        time.sleep(SLOW_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(assistant, "ask", ask)


def test_served_app_replies_busy_past_the_queue_limit(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    from gradio_client import Client

    assistant.settings.ui.queue_size = 1
    assistant.settings.ui.rate_limit_per_minute = 100
    assistant.settings.ui.rate_limit_per_address = 100
    _slow(assistant, monkeypatch)
    app = create_app(assistant)
    port = free_port()
    serve(app, "127.0.0.1", port, block=False)
    users = ANSWERS_AT_ONCE + 1 + 3  # answered, waiting, turned away
    try:
        clients = [Client(f"http://127.0.0.1:{port}/", verbose=False) for _ in range(users)]

        def ask(client: Any) -> tuple[str, float]:
            start = time.perf_counter()
            try:
                return client.predict("What helps kneecap pain?", None, api_name="/ask")["behavior"], \
                    time.perf_counter() - start
            except Exception as exc:  # gradio_client raises the app's gr.Error as AppError
                return str(exc), time.perf_counter() - start

        with ThreadPoolExecutor(users) as pool:
            outcomes = list(pool.map(ask, clients))
        busy = [seconds for reply, seconds in outcomes if BUSY in reply]
        answered = [seconds for reply, seconds in outcomes if reply == "answer"]
        assert len(busy) == 3 and len(answered) == users - 3, outcomes
        assert max(busy) < SLOW_S - 1, busy  # turned away at once, not after waiting for an answer
        # The chat itself says it in the conversation.
        busy_chat = clients[0].submit("What helps kneecap pain?", api_name="/chat")
        pending = [c.submit("What helps kneecap pain?", None, api_name="/ask") for c in clients[1:3]]  # full
        time.sleep(0.5)
        start = time.perf_counter()
        _, chat = clients[4].predict("And IT band pain?", api_name="/chat")
        assert time.perf_counter() - start < SLOW_S - 1
        text = chat[-1]["content"]
        assert BUSY in (text if isinstance(text, str) else str(text))
        for job in [busy_chat, *pending]:
            job.result()
    finally:
        app.close()
