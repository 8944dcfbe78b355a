"""The staff console at ``/staff``: behind ``ui.staff_password``; the pipeline's inside view and feedback review."""

from __future__ import annotations

import hmac
from typing import Any

import gradio as gr

from assistant.evaluation.dataset import EXPECTED_BEHAVIORS
from assistant.schema import Answer
from assistant.ui.feedback import OBSERVED_TO_EXPECTED, FeedbackStore
from assistant.ui.ratelimit import SessionRateLimiter
from assistant.ui.render import answer_markdown
from assistant.ui.runner_chat import session_key
from assistant.ui.variants import TopKVariants

DISABLED = ("The staff console is disabled: no staff password is set. Set `ui.staff_password` in knee.toml "
            "(or `KNEE_UI__STAFF_PASSWORD`) and restart the app.")
REFUSED = "Wrong password: access refused."
LOCKED = "The console is locked. Enter the staff password first."
UNLOCKED = "Unlocked. Ask a question below, or review feedback."
TOO_MANY = "Too many password attempts. Please wait a minute and try again."
CANDIDATE_HEADERS = ["rank", "doc", "section", "dense", "bm25", "fused", "chunk"]
CITATION_HEADERS = ["n", "doc", "section", "quote"]
DECISION_HEADERS = ["stage", "outcome", "reason"]
TIMING_HEADERS = ["stage", "ms"]
FEEDBACK_HEADERS = ["id", "rating", "behavior", "reviewed", "question"]


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def inside_view(answer: Answer) -> dict[str, Any]:
    """The tables the console shows for one answer (plain lists, so tests can check them without Gradio)."""
    return {
        "summary": f"**Behaviour:** `{answer.behavior}` · **Retrieval query:** {answer.query or '—'}",
        "candidates": [[i, c.doc_id, c.section, _score(c.dense), _score(c.bm25), _score(c.score), c.chunk_id]
                       for i, c in enumerate(answer.candidates, start=1)],
        "citations": [[c.n, c.doc_id, c.section, c.quote] for c in answer.citations],
        "decisions": [[d.stage, d.outcome, d.reason] for d in answer.decisions],
        "timings": [[stage, ms] for stage, ms in answer.timings.items()],
    }


def _alert(text: str) -> str:
    return f"<span class='staff-refused' role='alert'>{text}</span>"


def check_password(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def build_staff(variants: TopKVariants, feedback: FeedbackStore, password: str | None, default_top_k: int) -> None:
    """Add the staff page's components to the route being built."""
    gr.Markdown("## Staff console", elem_classes="staff-banner")
    if password is None:
        gr.Markdown(DISABLED, elem_id="staff-disabled")
        return
    attempts = SessionRateLimiter(5)
    unlocked = gr.State(False)
    with gr.Row():
        given = gr.Textbox(label="Staff password", type="password", elem_id="staff-password", scale=3)
        unlock = gr.Button("Unlock", variant="primary", elem_id="staff-unlock", scale=1)
    status = gr.Markdown("", elem_id="staff-status")
    with gr.Column(visible=False, elem_id="staff-console") as console:
        with gr.Tab("Ask"):
            question = gr.Textbox(label="Question", elem_id="staff-question")
            top_k = gr.Slider(1, 20, value=default_top_k, step=1, label="top-k (chunks given to the composer)")
            ask = gr.Button("Ask", variant="primary", elem_id="staff-ask")
            summary = gr.Markdown(elem_id="staff-summary")
            with gr.Accordion("Answer as the runner sees it", open=False):
                rendered = gr.Markdown(sanitize_html=True)
            candidates = gr.Dataframe(headers=CANDIDATE_HEADERS, label="Retrieved candidates", interactive=False,
                                      wrap=True, column_widths=["6%", "16%", "32%", "8%", "8%", "8%", "22%"])
            citations = gr.Dataframe(headers=CITATION_HEADERS, label="Chosen sentences", interactive=False, wrap=True,
                                     column_widths=["5%", "15%", "25%", "55%"])
            decisions = gr.Dataframe(headers=DECISION_HEADERS, label="Guardrail decisions", interactive=False,
                                     wrap=True)
            timings = gr.Dataframe(headers=TIMING_HEADERS, label="Latency per stage (ms)", interactive=False)
        with gr.Tab("Feedback"):
            refresh = gr.Button("Refresh list")
            table = gr.Dataframe(headers=FEEDBACK_HEADERS, label="Newest feedback", interactive=False, wrap=True)
            entry_id = gr.Number(label="Entry id", precision=0)
            load = gr.Button("Load entry")
            shown = gr.Markdown()
            corrected = gr.Textbox(label="Corrected answer", lines=4)
            facts = gr.Textbox(label="Key facts it should contain (one per line; 'a|b' for alternatives)", lines=3)
            expected = gr.Dropdown(list(EXPECTED_BEHAVIORS), value="answer", label="Expected behaviour")
            save = gr.Button("Save correction", variant="primary")
            saved = gr.Markdown()

    def do_unlock(text: str, request: gr.Request) -> tuple[bool, str, Any]:
        if attempts.check(session_key(request)):
            return False, _alert(TOO_MANY), gr.update(visible=False)
        if check_password(text or "", password):
            return True, UNLOCKED, gr.update(visible=True)
        return False, _alert(REFUSED), gr.update(visible=False)

    def do_ask(ok: bool, text: str, k: float) -> tuple[str, str, Any, Any, Any, Any]:
        if not ok:
            raise gr.Error(LOCKED)
        answer = variants.get(int(k)).ask(text)
        view = inside_view(answer)
        return (view["summary"], answer_markdown(answer), view["candidates"], view["citations"],
                view["decisions"], view["timings"])

    def do_list(ok: bool) -> list[list[Any]]:
        if not ok:
            raise gr.Error(LOCKED)
        return [[e.id, e.rating, e.behavior, "yes" if e.reviewed else "", e.question] for e in feedback.entries(200)]

    def do_load(ok: bool, number: float | None) -> tuple[str, str, str, str]:
        if not ok:
            raise gr.Error(LOCKED)
        try:
            e = feedback.get(int(number or 0))
        except KeyError:
            return "No such entry.", "", "", "answer"
        head = f"**Question:** {e.question}\n\n**Answer given** (`{e.behavior}`, rated {e.rating}):\n\n{e.answer}"
        default = e.expected_behavior or OBSERVED_TO_EXPECTED.get(e.behavior, "answer")
        return head, e.corrected_answer, "\n".join(e.key_facts), default

    def do_save(ok: bool, number: float | None, answer: str, key_facts: str, behaviour: str) -> str:
        if not ok:
            raise gr.Error(LOCKED)
        try:
            e = feedback.review(int(number or 0), answer, key_facts.splitlines(), behaviour)
        except KeyError:
            return "No such entry."
        except ValueError as exc:
            return str(exc)
        return f"Saved correction for entry {e.id}; it will be exported as case FB{e.id:04d}."

    private: dict[str, Any] = {"api_visibility": "private"}
    unlock.click(do_unlock, [given], [unlocked, status, console], api_name="staff_login")
    given.submit(do_unlock, [given], [unlocked, status, console], **private)
    ask.click(do_ask, [unlocked, question, top_k], [summary, rendered, candidates, citations, decisions, timings],
              **private)
    refresh.click(do_list, [unlocked], [table], **private)
    load.click(do_load, [unlocked, entry_id], [shown, corrected, facts, expected], **private)
    save.click(do_save, [unlocked, entry_id, corrected, facts, expected], [saved], **private)
