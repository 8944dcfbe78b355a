"""The runner chat at ``/``: streamed answers with source cards, thumbs up/down, rate limits per session and address.

The conversation lives on the server (a ``gr.State`` per session): the Chatbot is output only, so nothing a client
sends can become a message on screen, and every message shown is built here (user text escaped, answers rendered by
``render.py``). The ``/ask`` API returns the runner's view of an answer; the inside view is the staff console's.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import gradio as gr

from assistant.rag.outage import one_line
from assistant.rag.service import Assistant
from assistant.schema import Answer
from assistant.ui.feedback import REASONS, FeedbackStore, Rating
from assistant.ui.ratelimit import BUSY, AnswerGate, SessionRateLimiter, too_fast_message
from assistant.ui.render import (
    NOTICE,
    STARTERS,
    WELCOME,
    answer_markdown,
    limit_class,
    plain_reply,
    runner_view,
    user_bubble,
)

log = logging.getLogger(__name__)
Chat = list[dict[str, Any]]
RATINGS: dict[bool | str, Rating] = {True: "up", False: "down", "Like": "up", "Dislike": "down"}
# Questions answered at once: one per core of the 2-core target; more only slows each answer down.
ANSWERS_AT_ONCE = 2
# Messages kept on screen and turns given to the assistant as history; older ones drop off.
SHOWN_KEPT = 40
HISTORY_KEPT = 12
ALREADY_RATED = "You already rated this answer. Thank you."


def new_conversation() -> dict[str, Any]:
    """Server-side state of one chat: what is shown, the plain turns, and what each answer's thumbs refer to."""
    return {"shown": [], "turns": [], "answers": {}}


def client_address(request: gr.Request | None) -> str:
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "unknown")


def session_key(request: gr.Request | None) -> str:
    if request is None:
        return "local"
    return str(request.session_hash or client_address(request))


class Limits:
    """Per-session and per-address question limits, and a per-address limit on thumbs."""

    def __init__(self, per_session: int, per_address: int, feedback_per_address: int) -> None:
        self.session = SessionRateLimiter(per_session)
        self.address = SessionRateLimiter(per_address)
        self.feedback = SessionRateLimiter(feedback_per_address)

    def question(self, request: gr.Request | None) -> float:
        """0 when a question may be answered now, else the seconds to wait (checked before any work)."""
        return self.address.check(client_address(request)) or self.session.check(session_key(request))


def build_runner_app(assistant: Assistant, feedback: FeedbackStore) -> Any:
    """The runner's Gradio app: chat, ``/chat`` and ``/ask`` endpoints; no staff function exists in it."""
    ui = assistant.settings.ui
    limit = assistant.settings.safety.max_input_chars
    gate = AnswerGate(ANSWERS_AT_ONCE, ui.queue_size)
    limits = Limits(ui.rate_limit_per_minute, ui.rate_limit_per_address, ui.feedback_per_minute)

    def refusal(request: gr.Request | None) -> str | None:
        """Why a question is not answered now, decided before any work; None when it may be.

        An over-long message is answered by the assistant itself (refused with the referral, its length checked
        before any normalisation), so a long message that mentions a red flag still gets the referral.
        """
        wait = limits.question(request)
        return too_fast_message(wait) if wait else None

    def respond(message: Any, conversation: dict[str, Any] | None,
                request: gr.Request) -> Iterator[tuple[str, Chat, dict[str, Any]]]:
        state = conversation or new_conversation()
        shown: Chat = state["shown"]
        text = message if isinstance(message, str) else ""
        shown.append({"role": "user", "content": user_bubble(text, limit)})
        refused = refusal(request)
        if refused:
            shown.append({"role": "assistant", "content": plain_reply(refused)})
            yield _keep(text, state)
            return
        final: Answer | None = None
        with gate.enter() as admitted:
            if not admitted:
                shown.append({"role": "assistant", "content": plain_reply(BUSY)})
                yield _keep(text, state)
                return
            shown.append({"role": "assistant", "content": ""})
            streamed, failed = "", False
            try:
                for piece in assistant.ask_stream(text, history=state["turns"][-HISTORY_KEPT:]):
                    if isinstance(piece, Answer):
                        final = piece
                    else:
                        streamed += piece
                        shown[-1] = {"role": "assistant", "content": plain_reply(streamed)}
                        yield "", shown, state
            except Exception as exc:  # the error boundary: words and urgent advice, never Gradio's bare "Error"
                final, failed = assistant.unavailable(text, exc), True
        if final is not None and (failed or len(text) > limit):
            # Refused for its length, or not answered: the question stays in the box to shorten or send again.
            shown[-1] = {"role": "assistant", "content": answer_markdown(final)}
            yield _keep(text, state)
            return
        if final is not None:
            shown[-1] = {"role": "assistant", "content": answer_markdown(final)}
            state["turns"] += [("user", text), ("assistant", final.body)]
            # What the thumbs need later: the question and the answer itself (not the rendered HTML).
            state["answers"][len(shown) - 1] = {"question": text, "body": final.body, "behavior": final.behavior,
                                                "sources": sorted({c.doc_id for c in final.citations}),
                                                "rated": False}
        _trim(state)
        yield "", shown, state

    def on_like(conversation: dict[str, Any] | None, data: gr.LikeData, request: gr.Request) -> str:
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        record = (conversation or {}).get("answers", {}).get(index) if isinstance(index, int) else None
        rating: Rating | None = RATINGS.get(data.liked) if isinstance(data.liked, bool | str) else None
        if record is None or rating is None:
            return ""
        if record["rated"]:
            return ALREADY_RATED
        if limits.feedback.check(client_address(request)):
            return "Thanks. Too many ratings from your connection right now; please try again later."
        try:
            entry = feedback.add(rating, record["question"], record["body"], record["behavior"], record["sources"])
        except (sqlite3.Error, OSError) as exc:  # locked, read-only, deleted or damaged: say so, keep serving
            log.warning("feedback not saved: %s", one_line(exc))
            return "Sorry, your rating could not be saved right now. Please try again later."
        record["rated"] = True
        if rating == "up":
            return "Thanks, your feedback was saved."
        if conversation is not None:
            conversation["disliked"] = entry  # offer_reason asks what was wrong with it
        return "Thanks, staff will review this answer. If you like, tell us what was wrong:"

    def offer_reason(conversation: dict[str, Any] | None) -> tuple[Any, Any, int | None]:
        """After a saved thumbs-down, the optional "what was wrong?" choices; otherwise nothing."""
        entry = (conversation or {}).pop("disliked", None)
        return gr.update(visible=entry is not None), gr.update(value=None), entry

    def on_reason(reason: Any, entry: int | None) -> tuple[str, Any, None]:
        if entry is None or reason not in REASONS:
            return "", gr.update(visible=False), None
        try:
            feedback.add_reason(entry, reason)
        except (sqlite3.Error, OSError, KeyError, ValueError) as exc:
            log.warning("feedback reason not saved: %s", one_line(exc))
            return "Sorry, that could not be saved right now.", gr.update(visible=False), None
        return "Thank you, that helps staff fix it.", gr.update(visible=False), None

    def on_starter(conversation: dict[str, Any] | None, data: gr.SelectData,
                   request: gr.Request) -> Iterator[tuple[str, Chat, dict[str, Any]]]:
        """A starter question in the empty chat is sent at once."""
        value = data.value if isinstance(data.value, dict) else {}
        text = value.get("text") if isinstance(value.get("text"), str) else ""
        if text not in STARTERS:  # only the app's own starters arrive this way
            state = conversation or new_conversation()
            yield "", state["shown"], state
            return
        yield from respond(text, conversation, request)

    def ask_api(question: Any, history: Any, request: gr.Request) -> dict[str, Any]:
        """The runner's view of an answer: text, body, citations, behavior, referral."""
        text = question if isinstance(question, str) else ""
        refused = refusal(request)
        if refused:
            raise gr.Error(refused)
        with gate.enter() as admitted:
            if not admitted:
                raise gr.Error(BUSY)
            # Any JSON may arrive: ask keeps the well-formed (role, text) pairs of the history and drops the rest.
            try:
                return runner_view(assistant.ask(text, history=history))
            except Exception as exc:  # an outage is an answer too, with its behaviour "unavailable"
                return runner_view(assistant.unavailable(text, exc))

    with gr.Blocks(title="Runner's Knee Assistant", analytics_enabled=False) as app:
        gr.Markdown("## Runner's Knee Assistant", elem_id="title")
        gr.Markdown(NOTICE, elem_id="notice")
        conversation = gr.State(new_conversation())
        pending = gr.State(None)  # the feedback entry a "what was wrong?" choice belongs to
        # No label (a sticky label covered the first line) and no autoscroll: /chat.js opens each reply at its start.
        chatbot = gr.Chatbot(show_label=False, height="70vh", min_height=320, elem_id="chat", sanitize_html=True,
                             feedback_options=("Like", "Dislike"), buttons=["copy"], autoscroll=False,
                             placeholder=WELCOME, examples=[{"text": q} for q in STARTERS])
        # No max_length: the browser would cut a pasted message silently. /chat.js counts near the limit and holds
        # back a longer message; the assistant refuses one that arrives anyway, saying why, and the box keeps it.
        box = gr.Textbox(label="Your question", placeholder="Ask about your knee and running…", show_label=False,
                         elem_id="question",
                         submit_btn=True, lines=1, max_lines=4, elem_classes=[limit_class(limit)])
        thanks = gr.Markdown("", elem_id="feedback-status")
        with gr.Row(visible=False, elem_id="feedback-reason") as reason_row:
            reason = gr.Radio(list(REASONS), label="What was wrong? (optional)", elem_id="feedback-reasons")
        # The gate, not Gradio's per-event limit, decides who waits (see AnswerGate). The Chatbot is never an input.
        box.submit(respond, [box, conversation], [box, chatbot, conversation], api_name="chat",
                   concurrency_limit=None)
        chatbot.example_select(on_starter, [conversation], [box, chatbot, conversation], api_visibility="private",
                               concurrency_limit=None)
        chatbot.like(on_like, [conversation], thanks, api_visibility="private").then(
            offer_reason, [conversation], [reason_row, reason, pending], api_visibility="private")
        reason.input(on_reason, [reason, pending], [thanks, reason_row, pending], api_visibility="private")
        # The Chatbot's own clear button empties the screen; the conversation behind it starts again too.
        chatbot.clear(new_conversation, None, conversation, api_visibility="private")
        api_q = gr.Textbox(visible=False)
        api_h = gr.JSON(visible=False)
        api_out = gr.JSON(visible=False)
        api_q.submit(ask_api, [api_q, api_h], api_out, api_name="ask", concurrency_limit=None)
    return app


def _keep(text: str, state: dict[str, Any]) -> tuple[str, Chat, dict[str, Any]]:
    """Leave the typed question in the box (it was not answered) and show the conversation."""
    _trim(state)
    return text, state["shown"], state


def _trim(state: dict[str, Any]) -> None:
    """Bound what one session keeps: the oldest messages leave the screen (and their thumbs with them)."""
    extra = len(state["shown"]) - SHOWN_KEPT
    if extra > 0:
        del state["shown"][:extra]
        state["answers"] = {i - extra: r for i, r in state["answers"].items() if i >= extra}
    del state["turns"][:-HISTORY_KEPT]
