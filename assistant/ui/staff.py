"""The staff console at ``/staff``, behind ``ui.staff_password``: login, then one tab per job.

    staff.py            login and the Feedback tab; builds the others
    staff_ask.py        Ask: backend, top-k and filter per question; the pipeline's inside view
    staff_compare.py    Compare: one question under two configurations, side by side
    staff_documents.py  Documents: upload and ingest, list, delete, verify the index
    staff_eval.py       Eval: run a suite file, show the report and its gate
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.evaluation.dataset import EXPECTED_BEHAVIORS
from assistant.rag.service import Assistant
from assistant.ui.feedback import OBSERVED_TO_EXPECTED, FeedbackStore
from assistant.ui.ratelimit import SessionRateLimiter
from assistant.ui.runner_chat import session_key
from assistant.ui.staff_ask import build_ask_tab
from assistant.ui.staff_common import LOCKED, PRIVATE, require_unlocked
from assistant.ui.staff_compare import build_compare_tab
from assistant.ui.staff_documents import build_documents_tab, refresh_updates
from assistant.ui.staff_eval import SUITES_DIR, build_eval_tab

DISABLED = ("The staff console is disabled: no staff password is set. Set `ui.staff_password` in knee.toml "
            "(or `KNEE_UI__STAFF_PASSWORD`) and restart the app.")
REFUSED = "Wrong password: access refused."
UNLOCKED = "Unlocked. Ask a question, compare configurations, manage documents, run an eval or review feedback."
TOO_MANY = "Too many password attempts. Please wait a minute and try again."
FEEDBACK_HEADERS = ["id", "rating", "behavior", "reviewed", "question"]
__all__ = ["DISABLED", "LOCKED", "REFUSED", "UNLOCKED", "build_staff", "check_password"]


def _alert(text: str) -> str:
    return f"<span class='staff-refused' role='alert'>{text}</span>"


def check_password(given: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given.encode(), expected.encode())


def build_staff(assistant: Assistant, feedback: FeedbackStore, password: str | None,
                suites_dir: Path = SUITES_DIR) -> None:
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
        with gr.Tab("Ask", elem_id="staff-tab-ask"):
            filters = [build_ask_tab(assistant, unlocked)]
        with gr.Tab("Compare", elem_id="staff-tab-compare"):
            filters += build_compare_tab(assistant, unlocked)
        with gr.Tab("Documents", elem_id="staff-tab-documents"):
            documents = build_documents_tab(assistant, unlocked, filters)
        with gr.Tab("Eval", elem_id="staff-tab-eval"):
            build_eval_tab(assistant, unlocked, suites_dir)
        with gr.Tab("Feedback", elem_id="staff-tab-feedback"):
            _build_feedback_tab(feedback, unlocked)

    def do_unlock(text: str, request: gr.Request) -> tuple[bool, str, Any]:
        if attempts.check(session_key(request)):
            return False, _alert(TOO_MANY), gr.update(visible=False)
        if check_password(text or "", password):
            return True, UNLOCKED, gr.update(visible=True)
        return False, _alert(REFUSED), gr.update(visible=False)

    def after_unlock(ok: bool) -> tuple[Any, ...]:
        """Fill the documents table and the filter choices once the console opens."""
        if not ok:
            return tuple(gr.skip() for _ in range(1 + len(filters)))
        try:
            rows, updates = refresh_updates(assistant, filters)
        except Exception:  # an index problem shows in the Documents tab's own actions, not at login
            return tuple(gr.skip() for _ in range(1 + len(filters)))
        return rows, *updates

    unlock.click(do_unlock, [given], [unlocked, status, console], api_name="staff_login").then(
        after_unlock, [unlocked], [documents, *filters], **PRIVATE)
    given.submit(do_unlock, [given], [unlocked, status, console], **PRIVATE).then(
        after_unlock, [unlocked], [documents, *filters], **PRIVATE)


def _build_feedback_tab(feedback: FeedbackStore, unlocked: Any) -> None:
    """Rated answers; staff load one and save the corrected answer, its key facts and the expected behaviour."""
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

    def do_list(ok: bool) -> list[list[Any]]:
        require_unlocked(ok)
        return [[e.id, e.rating, e.behavior, "yes" if e.reviewed else "", e.question] for e in feedback.entries(200)]

    def do_load(ok: bool, number: float | None) -> tuple[str, str, str, str]:
        require_unlocked(ok)
        try:
            e = feedback.get(_entry_number(number))
        except KeyError:
            return "No such entry.", "", "", "answer"
        head = f"**Question:** {e.question}\n\n**Answer given** (`{e.behavior}`, rated {e.rating}):\n\n{e.answer}"
        default = e.expected_behavior or OBSERVED_TO_EXPECTED.get(e.behavior, "answer")
        return head, e.corrected_answer, "\n".join(e.key_facts), default

    def do_save(ok: bool, number: float | None, answer: str, key_facts: str, behaviour: str) -> str:
        require_unlocked(ok)
        try:
            e = feedback.review(_entry_number(number), answer or "", (key_facts or "").splitlines(), behaviour)
        except KeyError:
            return "No such entry."
        except ValueError as exc:
            return str(exc)
        return f"Saved correction for entry {e.id}; it will be exported as case FB{e.id:04d}."

    refresh.click(do_list, [unlocked], [table], **PRIVATE)
    load.click(do_load, [unlocked, entry_id], [shown, corrected, facts, expected], **PRIVATE)
    save.click(do_save, [unlocked, entry_id, corrected, facts, expected], [saved], **PRIVATE)


def _entry_number(number: float | None) -> int:
    """A feedback id from the number box; anything that is not a finite number matches no entry."""
    try:
        return int(number or 0)
    except (TypeError, ValueError, OverflowError):
        return 0
