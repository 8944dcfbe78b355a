"""The runner chat at ``/``: streamed answers with source cards, thumbs up/down, a per-session rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from assistant.rag.service import Assistant
from assistant.schema import Answer
from assistant.ui.feedback import FeedbackStore, Rating
from assistant.ui.ratelimit import BUSY, AnswerGate, SessionRateLimiter, too_fast_message
from assistant.ui.render import NOTICE, STARTERS, answer_markdown, plain_reply

Chat = list[dict[str, Any]]
Answers = dict[str, dict[str, Any]]
RATINGS: dict[bool | str, Rating] = {True: "up", False: "down", "Like": "up", "Dislike": "down"}
# Questions answered at once: one per core of the 2-core target; more only slows each answer down.
ANSWERS_AT_ONCE = 2


def message_text(content: Any) -> str:
    """Gradio 6 sends message content as a string or a list of ``{"type": "text", "text": ...}`` parts."""
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def history_pairs(messages: Chat | None) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for m in messages or []:
        if not isinstance(m, dict) or m.get("role") not in {"user", "assistant"}:
            continue
        if content := message_text(m.get("content")):
            pairs.append((str(m["role"]), content))
    return pairs


def session_key(request: gr.Request | None) -> str:
    if request is None:
        return "local"
    return str(request.session_hash or getattr(getattr(request, "client", None), "host", "") or "anonymous")


def build_runner(assistant: Assistant, feedback: FeedbackStore, limiter: SessionRateLimiter) -> None:
    """Add the runner chat and the ``/chat`` and ``/ask`` API endpoints to the Blocks being built."""
    limit = assistant.settings.safety.max_input_chars
    gate = AnswerGate(ANSWERS_AT_ONCE, assistant.settings.ui.queue_size)

    def respond(message: str, chat: Chat | None, answers: Answers | None,
                request: gr.Request) -> Iterator[tuple[str, Chat, Answers]]:
        chat, answers = list(chat or []), dict(answers or {})
        history = history_pairs(chat)
        chat.append({"role": "user", "content": message})
        wait = limiter.check(session_key(request))
        if wait:
            chat.append({"role": "assistant", "content": plain_reply(too_fast_message(wait))})
            yield "", chat, answers
            return
        final: Answer | None = None
        with gate.enter() as admitted:
            if not admitted:
                chat.append({"role": "assistant", "content": plain_reply(BUSY)})
                yield "", chat, answers
                return
            chat.append({"role": "assistant", "content": ""})
            for piece in assistant.ask_stream(message, history=history):
                if isinstance(piece, Answer):
                    final = piece
                else:
                    chat[-1] = {"role": "assistant", "content": chat[-1]["content"] + piece}
                    yield "", chat, answers
        if final is not None:
            chat[-1] = {"role": "assistant", "content": answer_markdown(final)}
            # What the thumbs need later: the question and the answer itself (not the rendered HTML).
            answers[str(len(chat) - 1)] = {"question": message, "body": final.body, "behavior": final.behavior,
                                           "sources": sorted({c.doc_id for c in final.citations})}
        yield "", chat, answers

    def on_like(answers: Answers | None, data: gr.LikeData) -> str:
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        record = (answers or {}).get(str(index))
        rating: Rating | None = RATINGS.get(data.liked)
        if record is None or rating is None:
            return ""
        feedback.add(rating, record["question"], record["body"], record["behavior"], record["sources"])
        return "Thanks, your feedback was saved." if rating == "up" else "Thanks, staff will review this answer."

    def ask_api(question: str, history: list[list[str]] | None, request: gr.Request) -> dict[str, Any]:
        """Full Answer as JSON: text, body, citations, behavior, referral, query, decisions, candidates, timings."""
        wait = limiter.check(session_key(request))
        if wait:
            raise gr.Error(too_fast_message(wait))
        with gate.enter() as admitted:
            if not admitted:
                raise gr.Error(BUSY)
            # Any JSON may arrive: ask keeps the well-formed (role, text) pairs of the history and drops the rest.
            return assistant.ask(question, history=history).model_dump()

    gr.Markdown("## Runner's Knee Assistant")
    gr.Markdown(NOTICE, elem_id="notice")
    chatbot = gr.Chatbot(label="Conversation", height="70vh", min_height=360, elem_id="chat", sanitize_html=True,
                         feedback_options=("Like", "Dislike"), buttons=["copy"])
    answers = gr.State({})
    box = gr.Textbox(placeholder="Ask about your knee and running…", max_length=limit, show_label=False,
                     elem_id="question", submit_btn=True)
    thanks = gr.Markdown("", elem_id="feedback-status")
    gr.Examples(STARTERS, inputs=box, label="Try asking")
    # The gate, not Gradio's per-event limit, decides who waits (see AnswerGate).
    box.submit(respond, [box, chatbot, answers], [box, chatbot, answers], api_name="chat", concurrency_limit=None)
    chatbot.like(on_like, [answers], thanks, api_visibility="private")
    api_q = gr.Textbox(visible=False)
    api_h = gr.JSON(visible=False)
    api_out = gr.JSON(visible=False)
    api_q.submit(ask_api, [api_q, api_h], api_out, api_name="ask", concurrency_limit=None)
