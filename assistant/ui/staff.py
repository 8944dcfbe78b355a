"""The staff console at ``/staff``: its own Gradio app behind the staff login (``staff_login.py``), one tab per job.

    staff.py            the console's page and the Feedback tab; builds the others
    staff_ask.py        Ask: backend, top-k and filter per question; the pipeline's inside view
    staff_compare.py    Compare: one question under two configurations, side by side
    staff_documents.py  Documents: upload and ingest, list, delete, verify the index
    staff_eval.py       Eval: run a suite file, show the report and its gate
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from assistant.evaluation.dataset import EXPECTED_BEHAVIORS
from assistant.rag.service import Assistant
from assistant.ui.feedback import OBSERVED_TO_EXPECTED, FeedbackStore
from assistant.ui.render import plain_markdown
from assistant.ui.staff_ask import build_ask_tab
from assistant.ui.staff_common import LOCKED, PRIVATE, require_staff
from assistant.ui.staff_compare import build_compare_tab
from assistant.ui.staff_documents import build_documents_tab, refresh_updates
from assistant.ui.staff_eval import SUITES_DIR, build_eval_tab

FEEDBACK_HEADERS = ["id", "rating", "what was wrong", "behavior", "reviewed", "question"]
__all__ = ["LOCKED", "build_staff_app"]


def build_staff_app(assistant: Assistant, feedback: FeedbackStore, suites_dir: Path = SUITES_DIR) -> Any:
    """The console's Gradio app; mounted only behind the staff login, and every action checks the session again."""
    # Uploaded files wait in Gradio's cache only until ingested; anything left there goes after an hour.
    with gr.Blocks(title="Staff console - Runner's Knee Assistant", analytics_enabled=False,
                   delete_cache=(600, 3600)) as app:
        with gr.Row():
            gr.Markdown("## Staff console", elem_classes="staff-banner")
            signed_in = gr.Markdown("", elem_id="staff-status")
            # A link, not a form: Gradio evaluates gr.HTML as a template with eval, which the CSP forbids.
            gr.Button("Sign out", link="logout", size="sm", variant="secondary", elem_id="staff-logout", scale=0)
        with gr.Tab("Ask", elem_id="staff-tab-ask"):
            filters = [build_ask_tab(assistant)]
        with gr.Tab("Compare", elem_id="staff-tab-compare"):
            filters += build_compare_tab(assistant)
        with gr.Tab("Documents", elem_id="staff-tab-documents"):
            documents = build_documents_tab(assistant, filters)
        with gr.Tab("Eval", elem_id="staff-tab-eval"):
            build_eval_tab(assistant, suites_dir)
        with gr.Tab("Feedback", elem_id="staff-tab-feedback"):
            _build_feedback_tab(feedback)

        def on_load(request: gr.Request) -> tuple[Any, ...]:
            """Who is signed in; the documents table and the filter choices."""
            name = require_staff(request)
            try:
                rows, updates = refresh_updates(assistant, filters)
            except Exception:  # an index problem shows in the Documents tab's own actions, not at sign-in
                return f"Signed in as **{plain_markdown(name)}**", *(gr.skip() for _ in range(1 + len(filters)))
            return f"Signed in as **{plain_markdown(name)}**", rows, *updates

        app.load(on_load, None, [signed_in, documents, *filters], **PRIVATE)
    return app


def _build_feedback_tab(feedback: FeedbackStore) -> None:
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

    def do_list(request: gr.Request) -> list[list[Any]]:
        require_staff(request)
        return [[e.id, e.rating, e.reason, e.behavior, "yes" if e.reviewed else "", e.question]
                for e in feedback.entries(200)]

    def do_load(request: gr.Request, number: float | None) -> tuple[str, str, str, str]:
        require_staff(request)
        try:
            e = feedback.get(_entry_number(number))
        except KeyError:
            return "No such entry.", "", "", "answer"
        # The question is a runner's text and the answer was shown to one: both appear as plain text, never markup.
        head = (f"**Question:** {plain_markdown(e.question)}\n\n**Answer given** (`{e.behavior}`, "
                f"rated {e.rating}{_said(e.reason)}):\n\n{plain_markdown(e.answer)}")
        default = e.expected_behavior or OBSERVED_TO_EXPECTED.get(e.behavior, "answer")
        return head, e.corrected_answer, "\n".join(e.key_facts), default

    def do_save(request: gr.Request, number: float | None, answer: str, key_facts: str, behaviour: str) -> str:
        require_staff(request)
        try:
            e = feedback.review(_entry_number(number), answer or "", (key_facts or "").splitlines(), behaviour)
        except KeyError:
            return "No such entry."
        except ValueError as exc:
            return str(exc)
        return f"Saved correction for entry {e.id}; it will be exported as case FB{e.id:04d}."

    refresh.click(do_list, [], [table], **PRIVATE)
    load.click(do_load, [entry_id], [shown, corrected, facts, expected], **PRIVATE)
    save.click(do_save, [entry_id, corrected, facts, expected], [saved], **PRIVATE)


def _said(reason: str) -> str:
    return f"; the runner said: {plain_markdown(reason)}" if reason else ""


def _entry_number(number: float | None) -> int:
    """A feedback id from the number box; anything that is not a finite number matches no entry."""
    try:
        return int(number or 0)
    except (TypeError, ValueError, OverflowError):
        return 0
