"""The staff console's tabs: Ask and Compare with per-question options, Documents, Eval; the lock on every action."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from assistant import Assistant, Settings, build_assistant
from assistant.errors import InputError
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.fakes import RecordingChatModel
from assistant.ui.app import create_app
from assistant.ui.feedback import FeedbackStore
from assistant.ui.staff import build_staff_app
from assistant.ui.staff_ask import CONFIGURED, EXTRACTIVE, NO_FILTER, Setup, backend_choices, filter_choices, staff_ask
from assistant.ui.staff_common import LOCKED
from assistant.ui.staff_compare import compare
from assistant.ui.staff_documents import (
    delete_document,
    documents_table,
    upload_files,
    upload_markdown,
    uploads_dir,
    verify_markdown,
)
from assistant.ui.staff_eval import run_suite, suite_files
from tests.llm_servers import scripted

PASSWORD = "staff-secret"
SIGNED_IN = gr.Request(username="physio")  # what Gradio passes once the staff login's session is found
SIGNED_OUT = gr.Request()
QUESTION = "What helps kneecap pain?"
# Three sentences the fixture article supports and one it does not (the verifier must remove that one).
LLM_LINES = [
    "Exercise therapy that strengthens the hip and knee muscles reduces kneecap pain for most runners [{strengthens}].",
    "Cutting back running volume for a while eases the load on the kneecap joint [{volume}].",
    "Wearing a knee brace at night cures kneecap pain within three days [{strengthens}].",
    "See a physiotherapist if kneecap pain lasts more than a few weeks [{physiotherapist}].",
]
GOOD_NOTE = """# Cadence notes

Runners with kneecap pain sometimes raise their step rate a little so that each landing loads the knee less.
A small increase in cadence, around five percent, is a common starting point that a physiotherapist may suggest.
"""
TINY_SUITE = """name: tiny
thresholds:
  case_pass_rate: 0.5
  referral_present: 1.0
cases:
  - id: T1
    category: kneecap
    question: "What helps kneecap pain?"
    expected_behavior: answer
    must_mention: ["kneecap|patellofemoral"]
  - id: T2
    category: scope
    question: "What is the capital of France?"
    expected_behavior: out_of_scope_decline
"""


def _handler(app: Any, name: str) -> Any:
    return next(f.fn for f in app.fns.values() if f.name == name)


def _write(folder: Path, name: str, data: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


@pytest.fixture
def llm_bot(assistant: Assistant, settings: Settings, embeddings: LocalEmbeddings) -> tuple[Assistant, Any]:
    """An assistant over the fixture index with a recording chat model as its configured backend."""
    model = RecordingChatModel(script=scripted(LLM_LINES))
    return build_assistant(settings, embeddings=embeddings, chat_model=model), model


# -- Ask --------------------------------------------------------------------------------------------------------
def test_backend_choice_offers_only_extractive_without_an_llm(assistant: Assistant, llm_bot: Any) -> None:
    choices, default, info = backend_choices(assistant)
    assert [value for _, value in choices] == [EXTRACTIVE] and default == EXTRACTIVE and "No LLM" in info
    choices, default, _ = backend_choices(llm_bot[0])
    assert [value for _, value in choices] == [CONFIGURED, EXTRACTIVE] and default == CONFIGURED


def test_ask_uses_or_bypasses_the_llm_per_question_and_shows_removed_claims(llm_bot: Any) -> None:
    bot, model = llm_bot
    answer, view = staff_ask(bot, QUESTION, Setup(CONFIGURED, 3))
    assert len(model.calls) == 1
    assert len(view["candidates"]) == 3
    assert "**Backend:** LLM (3 of 4 sentences verified)" in view["summary"]
    assert len(view["removed"]) == 1 and "knee brace" in view["removed"][0][0]
    assert "knee brace" not in answer.body

    answer, view = staff_ask(bot, QUESTION, Setup(EXTRACTIVE, 2))
    assert len(model.calls) == 1  # bypassed
    assert len(view["candidates"]) == 2 and view["removed"] == []
    assert "**Backend:** extractive" in view["summary"] and answer.citations


def test_ask_filter_keeps_matching_documents_and_bad_setups_are_input_errors(assistant: Assistant) -> None:
    assert {"kind: article", "kind: unreviewed-upload", "doc_id: outer-knee"} <= set(
        filter_choices(assistant.documents()))
    _, view = staff_ask(assistant, "What causes pain on the outside of the knee?",
                        Setup(EXTRACTIVE, 6, "doc_id: outer-knee"))
    assert view["candidates"] and {row[1] for row in view["candidates"]} == {"outer-knee"}
    _, view = staff_ask(assistant, QUESTION, Setup(EXTRACTIVE, 6, "kind: article"))
    assert "plain-note" not in {row[1] for row in view["candidates"]}
    for bad in (Setup(EXTRACTIVE, 6, "colour: red"), Setup("gpt-9", 6), Setup(EXTRACTIVE, 0)):
        with pytest.raises(InputError):
            staff_ask(assistant, QUESTION, bad)


def test_staff_handlers_refuse_without_a_signed_in_account(assistant: Assistant) -> None:
    assistant.settings.ui.staff_password = PASSWORD
    app = create_app(assistant).staff
    do_ask = _handler(app, "do_ask")
    with pytest.raises(gr.Error, match=LOCKED):
        do_ask(SIGNED_OUT, QUESTION, EXTRACTIVE, 4, NO_FILTER)
    for name, args in (("do_compare", (QUESTION, EXTRACTIVE, 2, NO_FILTER, EXTRACTIVE, 3, NO_FILTER)),
                       ("do_ingest", ([], False)), ("do_refresh", ()), ("do_delete", ("x", "x")),
                       ("do_verify", ()), ("do_eval", ("core.yaml",)), ("do_list", ()), ("do_load", (1,)),
                       ("do_save", (1, "a", "b", "answer")), ("on_load", ())):
        with pytest.raises(gr.Error, match=LOCKED):
            _handler(app, name)(SIGNED_OUT, *args)
    summary, rendered, candidates, citations, decisions, removed, timings = do_ask(SIGNED_IN, QUESTION, EXTRACTIVE,
                                                                                   4, NO_FILTER)
    assert "Retrieval query" in summary and "class='referral'" in rendered and len(candidates) == 4
    assert citations and decisions is not None and removed == [] and timings[-1][0] == "total"
    with pytest.raises(gr.Error, match="filter"):  # a bad filter is a one-line message, not a stack trace
        do_ask(SIGNED_IN, QUESTION, EXTRACTIVE, 4, "nonsense")
    who, table, *updates = _handler(app, "on_load")(SIGNED_IN)
    assert "physio" in who and len(updates) == 3
    assert {row[0] for row in table} == {"kneecap-pain", "outer-knee", "plain-note"}


# -- Compare ----------------------------------------------------------------------------------------------------
def test_compare_returns_two_views_and_a_diff(assistant: Assistant) -> None:
    question = "What causes knee pain in runners?"
    result = compare(assistant, question, Setup(EXTRACTIVE, 1, "doc_id: kneecap-pain"),
                     Setup(EXTRACTIVE, 5, "doc_id: outer-knee"))
    assert len(result["a"]["candidates"]) == 1 and len(result["b"]["candidates"]) > 1
    assert {row[1] for row in result["a"]["citations"]} == {"kneecap-pain"}
    assert {row[1] for row in result["b"]["citations"]} == {"outer-knee"}
    diff = result["diff"]
    assert "**Only in A:** `kneecap-pain`" in diff and "**Only in B:** `outer-knee`" in diff
    assert "**Cited in both:** —" in diff and "Candidate chunks shared:** 0" in diff
    same = compare(assistant, question, Setup(EXTRACTIVE, 3), Setup(EXTRACTIVE, 3))
    assert "**Answer text:** identical" in same["diff"] and "**Only in A:** —" in same["diff"]


# -- Documents --------------------------------------------------------------------------------------------------
def test_upload_reports_good_and_bad_files_and_the_good_one_is_listed(assistant: Assistant, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    good = _write(incoming, "cadence-notes.md", GOOD_NOTE)
    fake_pdf = _write(incoming, "scan.pdf", b"this is not a PDF at all, only text with a .pdf name\n")
    docx = _write(incoming, "notes.docx", b"PK\x03\x04")
    result = upload_files(assistant, [good, fake_pdf, docx])
    assert result.report is not None and result.report.added == ["cadence-notes"]
    assert "not a PDF" in next(iter(result.report.failed.values()))
    assert "unsupported file type" in result.refused["notes.docx"]
    text = upload_markdown(result)
    for line in ("**added:** `cadence-notes`", "**failed** `scan.pdf`", "**refused** `notes.docx`"):
        assert line in text
    assert sorted(p.name for p in uploads_dir(assistant).iterdir()) == ["cadence-notes.md"]  # the failed one is gone
    rows = {row[0]: row for row in documents_table(assistant)}
    assert rows["cadence-notes"][1:5] == ["Cadence notes", "unreviewed-upload", "", rows["cadence-notes"][4]]
    assert rows["cadence-notes"][4] > 0 and rows["cadence-notes"][5] == "uploads/cadence-notes.md"
    answer, _ = staff_ask(assistant, "Should I change my cadence for kneecap pain?", Setup(EXTRACTIVE, 6,
                                                                                           "doc_id: cadence-notes"))
    assert {c.doc_id for c in answer.citations} == {"cadence-notes"}

    again = upload_files(assistant, [good, _write(tmp_path / "other", "kneecap-pain.txt", "Kneecap text.\n")])
    assert again.report is None
    assert "already uploaded" in again.refused["cadence-notes.md"]
    assert "already taken" in again.refused["kneecap-pain.txt"]  # would otherwise replace the corpus article
    assert (uploads_dir(assistant) / "cadence-notes.md").read_text(encoding="utf-8") == GOOD_NOTE


def test_oversized_upload_is_refused_before_ingestion(assistant: Assistant, tmp_path: Path) -> None:
    assistant.settings.ingest.max_mb = 0.001  # about 1 KB
    big = _write(tmp_path / "incoming", "long-note.txt", "Knee pain while running. " * 200)
    result = upload_files(assistant, [big])
    assert result.report is None
    assert "over the 0.0 MB upload limit" in result.refused["long-note.txt"]
    assert not (uploads_dir(assistant) / "long-note.txt").exists()
    assert "long-note" not in {row[0] for row in documents_table(assistant)}


def test_delete_needs_confirmation_and_removes_the_document(assistant: Assistant, tmp_path: Path) -> None:
    assert "Not deleted" in delete_document(assistant, "outer-knee", "outer")
    assert "No document" in delete_document(assistant, "no-such-doc", "no-such-doc")
    message = delete_document(assistant, "outer-knee", " outer-knee ")
    assert message.startswith("Deleted `outer-knee` (") and "adds it back" in message
    assert "outer-knee" not in {row[0] for row in documents_table(assistant)}

    upload_files(assistant, [_write(tmp_path / "incoming", "cadence-notes.md", GOOD_NOTE)])
    message = delete_document(assistant, "cadence-notes", "cadence-notes")
    assert "uploaded file was deleted too" in message
    assert not (uploads_dir(assistant) / "cadence-notes.md").exists()
    assert verify_markdown(assistant).startswith("Index is consistent: 2 documents")


def test_verify_reports_a_consistent_index(assistant: Assistant) -> None:
    assert verify_markdown(assistant).startswith("Index is consistent: 3 documents")


# -- Eval -------------------------------------------------------------------------------------------------------
def test_eval_tab_runs_a_suite_file_and_shows_the_gate(assistant: Assistant, tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    _write(suites, "tiny.yaml", TINY_SUITE)
    _write(suites, "strict.yaml", TINY_SUITE.replace("name: tiny", "name: strict")
           .replace('["kneecap|patellofemoral"]', '["xyzzy"]').replace("case_pass_rate: 0.5", "case_pass_rate: 1.0"))
    _write(suites, "broken.yaml", "name: broken\ncases: []\n")
    assert suite_files(suites) == ["broken.yaml", "strict.yaml", "tiny.yaml"]

    outcome = run_suite(assistant, suites, "tiny.yaml")
    assert outcome.passed and outcome.status.startswith("**Gate: passed** · 2/2 cases passed")
    assert "**Gate: PASSED**" in outcome.markdown and "| case_pass_rate |" in outcome.markdown
    assert (assistant.settings.paths.data_dir / "eval-report-staff" / "report.json").exists()

    failed = run_suite(assistant, suites, "strict.yaml")
    assert not failed.passed and "**Gate: FAILED**" in failed.status
    assert "threshold not met: strict `case_pass_rate`" in failed.status and "Failing cases (1)" in failed.markdown

    assert "cannot be used" in run_suite(assistant, suites, "broken.yaml").status
    assert "Choose one of the suite files" in run_suite(assistant, suites, "../tiny.yaml").status


def test_eval_handler_runs_the_chosen_suite(assistant: Assistant, tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    _write(suites, "tiny.yaml", TINY_SUITE)
    app = build_staff_app(assistant, FeedbackStore.in_data_dir(tmp_path), suites_dir=suites)
    status, report = _handler(app, "do_eval")(SIGNED_IN, "tiny.yaml")
    assert "Gate: passed" in status and "# Evaluation report" in report


def test_feedback_tab_shows_runner_text_as_plain_text(assistant: Assistant, tmp_path: Path) -> None:
    """Security review (low): a runner's markdown rendered in the staff Feedback tab, fetching an external image."""
    store = FeedbackStore.in_data_dir(tmp_path)
    entry = store.add("down", "knee ![t](http://evil.example/t.png) <img src=x onerror=alert(1)>", "an answer",
                      "answer", [])
    app = build_staff_app(assistant, store)
    head, *_ = _handler(app, "do_load")(SIGNED_IN, entry)
    assert "![" not in head and "](http" not in head and "<img" not in head and "&lt;img" in head
