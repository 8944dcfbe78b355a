"""The Gradio app: built without a server, then served on loopback and called with gradio_client."""

from __future__ import annotations

import socket
from typing import Any

from assistant import Assistant
from assistant.ui.app import create_app
from assistant.ui.render import answer_markdown


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_app_builds_with_chat_and_api_endpoints(assistant: Assistant) -> None:
    app = create_app(assistant)
    names = {dep.get("api_name") for dep in app.config["dependencies"]}
    assert {"chat", "ask"} <= names


def test_rendered_answer_shows_sources_and_referral(assistant: Assistant) -> None:
    answer = assistant.ask("What helps kneecap pain?")
    md = answer_markdown(answer)
    assert "**Sources**" in md and answer.citations[0].title in md
    assert answer.referral in md
    urgent = answer_markdown(assistant.ask("my knee locked and will not straighten"))
    assert urgent.startswith("⚠️ **Urgent")


def test_served_app_answers_through_gradio_client(assistant: Assistant) -> None:
    from gradio_client import Client

    app = create_app(assistant)
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        result: dict[str, Any] = client.predict("What helps kneecap pain?", None, api_name="/ask")
        assert result["behavior"] == "answer"
        assert result["citations"] and result["referral"]
        _, chat = client.predict("What helps kneecap pain?", [], api_name="/chat")
        reply = chat[-1]["content"]
        text = reply if isinstance(reply, str) else " ".join(p.get("text", "") for p in reply)
        assert "[1]" in text and result["referral"] in text
    finally:
        app.close()
