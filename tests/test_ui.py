"""The Gradio app: built without a server, then served on loopback and called with gradio_client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from typer.testing import CliRunner

from assistant import Assistant
from assistant.cli import app as cli_app
from assistant.evaluation.dataset import load_suite
from assistant.ui.app import create_app, serve
from assistant.ui.feedback import FeedbackStore, export_suite
from assistant.ui.ratelimit import SessionRateLimiter
from assistant.ui.render import answer_markdown
from assistant.ui.staff_ask import Setup, inside_view, staff_ask
from assistant.ui.staff_login import REFUSED
from tests.conftest import free_port

PASSWORD = "correct horse battery staple"


def _handler(app: Any, name: str) -> Any:
    return next(f.fn for f in app.fns.values() if f.name == name)


def _text(reply: Any) -> str:
    return reply if isinstance(reply, str) else " ".join(p.get("text", "") for p in reply)


def test_app_builds_a_runner_chat_and_a_separate_staff_console(assistant: Assistant) -> None:
    assistant.settings.ui.staff_password = PASSWORD
    web = create_app(assistant)
    runner_names = {dep.get("api_name") for dep in web.runner.config["dependencies"]}
    assert {"chat", "ask"} <= runner_names
    runner_ids = {c.get("props", {}).get("elem_id") for c in web.runner.config["components"]}
    assert "staff-question" not in runner_ids and "staff-documents" not in runner_ids  # nothing of the console
    assert web.staff is not None
    staff_ids = {c.get("props", {}).get("elem_id") for c in web.staff.config["components"]}
    assert {"staff-question", "staff-documents", "staff-upload"} <= staff_ids
    chatbot = next(c for c in web.runner.config["components"] if c.get("props", {}).get("elem_id") == "chat")
    assert chatbot["props"]["feedback_options"] == ["Like", "Dislike"]
    routes = {getattr(r, "path", "") for r in web.api.routes}
    assert {"/staff/login", "/staff/logout", "/staff", ""} <= routes  # "": the runner mounted at the root


def test_staff_console_is_absent_without_an_account(assistant: Assistant) -> None:
    assistant.settings.ui.staff_password = None
    web = create_app(assistant)
    assert web.staff is None
    assert not {"/staff/login", "/staff"} & {getattr(r, "path", "") for r in web.api.routes}


def test_rendered_answer_shows_source_cards_and_referral(assistant: Assistant) -> None:
    answer = assistant.ask("What helps kneecap pain?")
    md = answer_markdown(answer)
    first = answer.citations[0]
    assert "<details class='source-card' id='src-1'>" in md and "<sup class='fn'>[1]</sup>" in md
    assert first.title.replace("'", "&#x27;") in md and "evidence:" in md
    assert "class='referral'" in md and md.rstrip().endswith("</div>")
    urgent = answer_markdown(assistant.ask("my knee locked and will not straighten"))
    assert urgent.startswith("<div class='urgent-alert' role='alert'><strong>⚠ Urgent")
    assert "class='referral'" in urgent


def test_source_card_escapes_document_fields(assistant: Assistant) -> None:
    answer = assistant.ask("What helps kneecap pain?")
    hostile = answer.citations[0].model_copy(update={"title": "<img src=x onerror=alert(1)>", "section": "Page 3",
                                                     "url": "javascript:alert(1)", "page": 3,
                                                     "sources": ["<b>Willy 2019</b>: guideline"]})
    md = answer_markdown(answer.model_copy(update={"citations": [hostile]}))
    assert "<img" not in md and "&lt;img" in md and "javascript:" not in md and "<b>" not in md
    assert "<span class='src-page'>p. 3</span>" in md and "Page 3" not in md  # the page is not said twice
    assert "&lt;b&gt;Willy 2019&lt;/b&gt;: guideline" in md


def test_rate_limiter_allows_a_burst_then_asks_to_wait() -> None:
    now = [0.0]
    limiter = SessionRateLimiter(2, clock=lambda: now[0])
    assert limiter.check("a") == 0 and limiter.check("a") == 0
    assert limiter.check("a") == pytest.approx(60.0)
    assert limiter.check("b") == 0
    now[0] = 61.0
    assert limiter.check("a") == 0


def test_staff_view_shows_scores_decisions_and_follows_top_k(assistant: Assistant) -> None:
    answer, view = staff_ask(assistant, "What helps kneecap pain?", Setup(top_k=2))
    assert view == inside_view(answer)
    assert 0 < len(view["candidates"]) <= 2
    assert view["citations"] and view["decisions"] is not None
    assert {"retrieve", "compose", "total"} <= {row[0] for row in view["timings"]}


def test_like_stores_feedback_in_sqlite(assistant: Assistant) -> None:
    app = create_app(assistant).runner
    respond, on_like = _handler(app, "respond"), _handler(app, "on_like")
    *_, (_, chat, state) = respond("What helps kneecap pain?", None, None)
    status = on_like(state, gr.LikeData(None, {"index": len(chat) - 1, "value": chat[-1], "liked": False}), None)
    assert "review" in status
    path = assistant.settings.paths.data_dir / "feedback.sqlite3"
    (entry,) = FeedbackStore(path).entries()
    assert entry.rating == "down" and entry.question == "What helps kneecap pain?" and entry.behavior == "answer"
    assert entry.answer and "<details" not in entry.answer and entry.sources


def test_feedback_export_as_suite_via_cli(tmp_path: Path) -> None:
    store = FeedbackStore.in_data_dir(tmp_path)
    liked = store.add("up", "What is runner's knee?", "It is ...", "answer", ["what-is-runners-knee"])
    fixed = store.add("down", "Can I run with a swollen knee?", "...", "answer", [])
    store.add("down", "ignored until reviewed", "...", "answer", [])
    store.review(fixed, "See someone first.", ["swell|swollen", "stop running", "  "], "answer")
    out = tmp_path / "suites" / "feedback.yaml"
    result = CliRunner().invoke(cli_app, ["feedback", "export", "--as-suite", str(out), "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    suite = load_suite(out)
    assert [c.id for c in suite.cases] == [f"FB{fixed:04d}"]
    assert suite.cases[0].must_mention == ["swell|swollen", "stop running"]
    assert export_suite(store, out, include_unreviewed=True) == 2
    assert f"FB{liked:04d}" in {c.id for c in load_suite(out).cases}
    empty = CliRunner().invoke(cli_app, ["feedback", "export", "--as-suite", str(out), "--data-dir",
                                         str(tmp_path / "none")])
    assert empty.exit_code == 1


def test_served_app_answers_refuses_wrong_staff_password_and_rate_limits(assistant: Assistant) -> None:
    import httpx
    from gradio_client import Client

    assistant.settings.ui.staff_password = PASSWORD
    assistant.settings.ui.rate_limit_per_minute = 3
    web = create_app(assistant)
    port = free_port()
    serve(web, "127.0.0.1", port, block=False)
    base = f"http://127.0.0.1:{port}"
    try:
        client = Client(base + "/", verbose=False)
        result: dict[str, Any] = client.predict("What helps kneecap pain?", None, api_name="/ask")
        assert result["behavior"] == "answer" and result["citations"] and result["referral"]
        _, chat = client.predict("What helps kneecap pain?", api_name="/chat")
        text = _text(chat[-1]["content"])
        assert "[1]" in text and "source-card" in text and result["referral"] in text
        with httpx.Client(base_url=base, headers={"origin": base}) as http:
            refused = http.post("/staff/login", data={"name": "staff", "password": "not the password"})
            assert refused.status_code == 401 and REFUSED in refused.text
            signed_in = http.post("/staff/login", data={"name": "staff", "password": PASSWORD})
            assert signed_in.status_code == 303 and http.get("/staff/").status_code == 200
        _, chat = client.predict("What helps kneecap pain?", api_name="/chat")  # third question
        _, chat = client.predict("And IT band pain?", api_name="/chat")  # fourth: over the limit
        assert "asking faster" in _text(chat[-1]["content"])
        assert [m["role"] for m in chat] == ["user", "assistant"] * 3  # the session's conversation, kept server-side
    finally:
        web.close()


@pytest.mark.parametrize("threads", [1, 0])
def test_serving_limits_torch_threads_as_set(threads: int) -> None:
    import torch

    from assistant.ui.app import limit_torch_threads

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        limit_torch_threads(threads)
        assert torch.get_num_threads() == (threads or 2)
    finally:
        torch.set_num_threads(before)


def test_session_state_gradio_keeps_is_bounded(assistant: Assistant) -> None:
    # Each API call without a session_hash opens a session; Gradio keeps their state until `sessions_kept`.
    import httpx

    assistant.settings.ui.sessions_kept = 100
    assistant.settings.ui.rate_limit_per_address = 1000  # one address opens all 120 sessions here
    web = create_app(assistant)
    port = free_port()
    serve(web, "127.0.0.1", port, block=False)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for _ in range(120):
                event = http.post("/gradio_api/call/ask", json={"data": ["What helps kneecap pain?", []]}).json()
                stream = http.get(f"/gradio_api/call/ask/{event['event_id']}").text
                assert "event: complete" in stream, stream[:300]
        assert len(web.runner.state_holder.session_data) == 100  # Gradio's store of per-session state
    finally:
        web.close()
