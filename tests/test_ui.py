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
from assistant.schema import Reference
from assistant.ui.app import create_app, serve
from assistant.ui.feedback import REASONS, FeedbackStore, export_suite
from assistant.ui.ratelimit import SessionRateLimiter
from assistant.ui.render import answer_markdown, plain_reply
from assistant.ui.staff_ask import Setup, inside_view, staff_ask
from assistant.ui.staff_login import REFUSED
from assistant.ui.theme import CSS
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
    assert "<details class='source-card cites-1" in md
    assert "<a class='fn' href='#sources' title='Open source 1'>[1]</a>" in md
    assert first.title.replace("'", "&#x27;") in md and "Evidence:" in md
    assert "[S" not in md.split("class='sources'")[1]  # quotes on the cards are clean; references are listed
    assert "<ul class='src-refs'><li class='src-ref'><a href='https://" in md
    assert "class='referral'" in md and md.rstrip().endswith("</div>")
    urgent = answer_markdown(assistant.ask("my knee locked and will not straighten"))
    assert urgent.startswith("<div class='urgent-alert' role='alert'><strong>⚠ Urgent")
    assert "class='referral'" in urgent


def test_source_card_escapes_document_fields(assistant: Assistant) -> None:
    answer = assistant.ask("What helps kneecap pain?")
    hostile_ref = Reference(label="<b>Willy 2019</b>", title="guideline' onmouseover='x", link="javascript:alert(1)",
                            publisher="<i>BJSM</i>")
    hostile = answer.citations[0].model_copy(update={"title": "<img src=x onerror=alert(1)>", "section": "Page 3",
                                                     "url": "javascript:alert(1)", "page": 3,
                                                     "references": [hostile_ref]})
    md = answer_markdown(answer.model_copy(update={"citations": [hostile]}))
    assert "<img" not in md and "&lt;img" in md and "javascript:" not in md and "<b>" not in md and "<i>" not in md
    assert "p. 3" in md and "Page 3" not in md  # the page is not said twice
    assert "&lt;b&gt;Willy 2019&lt;/b&gt;: guideline&#x27; onmouseover=&#x27;x" in md


def test_cards_group_quotes_by_article_and_passage(assistant: Assistant) -> None:
    """Issue 21: three cards of the same article; [n] opened nothing; links went to a publisher's home page."""
    answer = assistant.ask("What helps kneecap pain?")
    base = answer.citations[0]
    same_passage = base.model_copy(update={"n": 2, "quote": "Another sentence [S05]."})
    other_passage = base.model_copy(update={"n": 3, "section": "Another section", "quote": "Third [S06]."})
    other_article = base.model_copy(update={"n": 4, "doc_id": "other", "title": "Other article"})
    md = answer_markdown(answer.model_copy(update={"body": "A [1]. B [2]. C [3]. D [4].",
                                                   "citations": [base, same_passage, other_passage, other_article]}))
    assert md.count("class='src-article'") == 2 and md.count("<details class='source-card ") == 3
    assert "'source-card cites-1 cites-2'" in md and "'source-card cites-3'" in md and "'source-card cites-4'" in md
    assert "Another sentence." in md and "[S05]" not in md
    for n in range(1, 5):
        assert f"<a class='fn' href='#sources' title='Open source {n}'>[{n}]</a>" in md


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


def test_a_thumbs_down_offers_reasons_and_keeps_only_a_listed_one(assistant: Assistant) -> None:
    app = create_app(assistant).runner
    respond, on_like = _handler(app, "respond"), _handler(app, "on_like")
    offer, on_reason = _handler(app, "offer_reason"), _handler(app, "on_reason")
    *_, (_, chat, state) = respond("What helps kneecap pain?", None, None)
    on_like(state, gr.LikeData(None, {"index": len(chat) - 1, "value": chat[-1], "liked": False}), None)
    row, _, entry = offer(state)
    assert row["visible"] is True and isinstance(entry, int)
    assert offer(state)[0]["visible"] is False  # offered once
    assert on_reason("<script>free text</script>", entry)[0] == ""  # not one of the choices: nothing kept
    assert "helps staff" in on_reason(REASONS[2], entry)[0]
    store = FeedbackStore.in_data_dir(assistant.settings.paths.data_dir)
    assert store.get(entry).reason == REASONS[2]
    liked = store.add("up", "q", "a", "answer", [])
    with pytest.raises(KeyError):
        store.add_reason(liked, REASONS[0])  # reasons belong to thumbs-down only


def test_feedback_file_from_before_reasons_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "feedback.sqlite3") as db:
        db.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, rating TEXT "
                   "NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL, behavior TEXT NOT NULL, sources TEXT NOT "
                   "NULL DEFAULT '', corrected_answer TEXT NOT NULL DEFAULT '', key_facts TEXT NOT NULL DEFAULT '', "
                   "expected_behavior TEXT NOT NULL DEFAULT '', reviewed REAL)")
        db.execute("INSERT INTO feedback (created, rating, question, answer, behavior) VALUES (1, 'down', 'q', 'a', "
                   "'answer')")
    store = FeedbackStore.in_data_dir(tmp_path)
    assert store.entries()[0].reason == ""
    store.add_reason(1, REASONS[0])
    assert store.get(1).reason == REASONS[0]


def test_system_replies_are_marked_so_they_offer_no_thumbs() -> None:
    assert plain_reply("Busy <b>now</b>") == "<span class='system-reply'>Busy &lt;b&gt;now&lt;/b&gt;</span>"
    assert ".message-row:has(.system-reply) + .message-buttons" in CSS


def test_chat_and_embed_scripts_are_served_at_stable_paths(assistant: Assistant) -> None:
    from fastapi.testclient import TestClient

    web = create_app(assistant)
    with TestClient(web.api, base_url="http://127.0.0.1") as http:
        for name, marker in (("embed.js", "data-knee-assistant"), ("chat.js", "question-count")):
            response = http.get("/" + name)
            assert response.status_code == 200 and marker in response.text
            assert response.headers["content-type"].startswith("text/javascript")
            assert response.headers["x-content-type-options"] == "nosniff"
        head = web.runner.config.get("head") or ""
        assert '<script src="chat.js" defer></script>' in head
    web.close()


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
