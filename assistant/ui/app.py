"""The Gradio app: a runner chat at ``/`` and a JSON API endpoint ``/ask`` returning the full Answer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from assistant.rag.service import Assistant
from assistant.schema import Answer
from assistant.ui.render import NOTICE, STARTERS, answer_markdown

BUSY = "The assistant is busy right now. Please try again in a moment."


def _history_pairs(messages: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for m in messages or []:
        if not isinstance(m, dict) or m.get("role") not in {"user", "assistant"}:
            continue
        content = m.get("content")
        if isinstance(content, list):  # Gradio 6 sends a list of parts
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        if isinstance(content, str) and content:
            pairs.append((str(m["role"]), content))
    return pairs


def create_app(assistant: Assistant) -> Any:
    """Build (not launch) the Blocks app, so tests can inspect it without a server."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import gradio as gr

    limit = assistant.settings.safety.max_input_chars

    def respond(message: str, chat: list[dict[str, Any]] | None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        chat = list(chat or [])
        history = _history_pairs(chat)
        chat.append({"role": "user", "content": message})
        chat.append({"role": "assistant", "content": ""})
        final: Answer | None = None
        for piece in assistant.ask_stream(message, history=history):
            if isinstance(piece, Answer):
                final = piece
            else:
                chat[-1] = {"role": "assistant", "content": chat[-1]["content"] + piece}
                yield "", chat
        if final is not None:
            chat[-1] = {"role": "assistant", "content": answer_markdown(final)}
        yield "", chat

    def ask_api(question: str, history: list[list[str]] | None = None) -> dict[str, Any]:
        """Full Answer as JSON: text, citations, behavior, referral, decisions, timings."""
        pairs = [(str(r), str(t)) for r, t in (history or []) if r in {"user", "assistant"}]
        return assistant.ask(question, history=pairs).model_dump()

    with gr.Blocks(title="Runner's Knee Assistant", analytics_enabled=False) as app:
        gr.Markdown("## Runner's Knee Assistant")
        gr.Markdown(NOTICE, elem_id="notice")
        chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="chat", sanitize_html=True)
        box = gr.Textbox(placeholder="Ask about your knee and running…", max_length=limit, show_label=False,
                         elem_id="question", submit_btn=True)
        gr.Examples(STARTERS, inputs=box, label="Try asking")
        box.submit(respond, [box, chatbot], [box, chatbot], api_name="chat")
        api_q = gr.Textbox(visible=False)
        api_h = gr.JSON(visible=False)
        api_out = gr.JSON(visible=False)
        api_q.submit(ask_api, [api_q, api_h], api_out, api_name="ask")
    app.queue(max_size=assistant.settings.ui.queue_size, default_concurrency_limit=2)
    return app


def launch(assistant: Assistant, host: str, port: int) -> None:
    """Serve on ``host:port`` (loopback by default); no share links, no analytics."""
    app = create_app(assistant)
    app.launch(server_name=host, server_port=port, share=False, show_error=False, quiet=True,
               footer_links=["api"])
