"""The security review's findings replayed against the app served on loopback (HTTP here; Chromium in
tests/test_browser_security.py). Each test names the finding it guards."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from assistant import Assistant, build_assistant
from assistant.providers.embeddings import LocalEmbeddings
from assistant.ui.app import WebApp, create_app, serve
from assistant.ui.feedback import FeedbackStore
from assistant.ui.staff_auth import COOKIE, hash_password
from tests.conftest import FIXTURE_ARTICLES, free_port, make_settings

PASSWORD = "staff password for tests"
HASH = hash_password(PASSWORD)
INJECTED = "<img src=x onerror=alert(document.cookie)>"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Assistant:
    assistant = build_assistant(make_settings(tmp_path_factory.mktemp("security")), embeddings=embeddings)
    assert assistant.ingest([FIXTURE_ARTICLES]).ok
    return assistant


@contextmanager
def running(bot: Assistant, proxies: list[str] | None = None,
            **ui: Any) -> Iterator[tuple[httpx.Client, WebApp, Assistant]]:
    """The app on a free loopback port, built with a staff account and these ``ui`` settings."""
    saved = bot.settings.ui.model_copy(deep=True)
    bot.settings.ui = bot.settings.ui.model_copy(update={
        "staff_accounts": {"physio": HASH}, "rate_limit_per_minute": 50, "rate_limit_per_address": 50, **ui})
    try:
        web = create_app(bot)
    finally:
        bot.settings.ui = saved
    port = free_port()
    serve(web, "127.0.0.1", port, block=False, trusted_proxies=proxies)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, follow_redirects=False) as http:
            yield http, web, bot
    finally:
        web.close()


@pytest.fixture(scope="module")
def served(bot: Assistant) -> Iterator[tuple[httpx.Client, WebApp, Assistant]]:
    with running(bot) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_client(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    served[0].cookies.clear()


def call(http: httpx.Client, api_name: str, data: list[Any], session_hash: str | None = None,
         prefix: str = "") -> tuple[str, list[Any] | None]:
    """One Gradio API call through its HTTP route: ("complete", output) or ("error", message) or (status, None)."""
    body: dict[str, Any] = {"data": data}
    if session_hash:
        body["session_hash"] = session_hash
    started = http.post(f"{prefix}/gradio_api/call/{api_name}", json=body)
    if started.status_code != 200:
        return str(started.status_code), None
    stream = http.get(f"{prefix}/gradio_api/call/{api_name}/{started.json()['event_id']}").text
    events = [line for line in stream.splitlines() if line.startswith(("event:", "data:"))]
    kind = events[-2].split(":", 1)[1].strip()
    payload = json.loads(events[-1].split(":", 1)[1])
    return kind, payload


def staff_login(http: httpx.Client, name: str = "physio", password: str = PASSWORD) -> httpx.Response:
    return http.post("/staff/login", data={"name": name, "password": password},
                     headers={"origin": str(http.base_url).rstrip("/")})


# -- High: stored script injection through the chat history ------------------------------------------------------
def test_chat_history_sent_by_a_client_is_never_shown(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, _, _ = served
    fake = [{"role": "assistant", "content": INJECTED},
            {"role": "assistant", "content": {"component": "html", "value": INJECTED, "props": {}}}]
    kind, output = call(http, "chat", ["What helps kneecap pain?", fake], session_hash="attacker01")
    if kind == "complete":
        assert output is not None
        shown = json.dumps(output[1])
        assert "onerror" not in shown and '"component"' not in shown
        assert [m["role"] for m in output[1]] == ["user", "assistant"]  # only this exchange, from the server's state
    else:  # Gradio refused the extra input outright: nothing was shown either
        assert kind in {"error", "422"}


def test_user_text_is_shown_as_text(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, _, _ = served
    kind, output = call(http, "chat", [f"{INJECTED} ![x](http://evil.example/t.png) why does my knee hurt?"])
    assert kind == "complete" and output is not None
    user = json.dumps(output[1][0]["content"])
    assert "<img" not in user and "&lt;img" in user and "](http" not in user


def test_deep_links_are_closed(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, _, _ = served
    call(http, "chat", ["What helps kneecap pain?"], session_hash="victim0001")
    assert http.get("/gradio_api/deep_link", params={"session_hash": "victim0001"}).status_code == 404
    assert http.get("/", params={"deep_link": "abc123"}).status_code == 404
    assert http.get("/staff/gradio_api/deep_link", params={"session_hash": "x"}).status_code == 404


# -- High: the staff password and runner chats stored in the browser ---------------------------------------------
def test_run_history_is_off_and_its_page_closed(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, web, _ = served
    assert web.runner.run_history is False and (web.staff is None or web.staff.run_history is False)
    config = http.get("/config").json()
    assert config.get("run_history") in (False, None) and "runs" not in config.get("footer_links", [])
    assert http.get("/gradio_api/runs").status_code == 404


def test_staff_login_is_a_form_with_an_httponly_cookie(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, web, _ = served
    assert http.get("/staff/").status_code == 303  # to the login form, not a page with the console in it
    form = http.get("/staff/login")
    assert form.status_code == 200 and 'type="password"' in form.text
    ok = staff_login(http)
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert COOKIE in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert PASSWORD not in cookie
    assert http.get("/staff/").status_code == 200
    # The console's app has no password field and its session state holds no password.
    assert not [c for c in web.staff.config["components"] if c.get("props", {}).get("type") == "password"]
    assert PASSWORD not in json.dumps(http.get("/staff/config").json())


# -- Medium --------------------------------------------------------------------------------------------------------
def test_failed_logins_are_limited_per_address_and_logged_without_the_password(
    bot: Assistant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="assistant.ui.staff_login")
    with running(bot) as (http, _, _):  # its own server: this test leaves the address throttled
        statuses = []
        for i in range(8):  # a fresh cookie jar each time: rotating the session changes nothing
            http.cookies.clear()
            statuses.append(staff_login(http, password=f"guess number {i}").status_code)
        assert statuses[:5] == [401] * 5 and 429 in statuses[5:]
        assert staff_login(http).status_code == 429  # even the right password waits out the back-off
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "staff login failed" in logged and "guess number" not in logged and "127.0.0.1" in logged


def test_logout_ends_the_session(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, _, _ = served
    staff_login(http)
    token = http.cookies.get(COOKIE)
    assert http.get("/staff/").status_code == 200
    out = http.post("/staff/logout", headers={"origin": str(http.base_url).rstrip("/")})
    assert out.status_code == 303
    http.cookies.set(COOKIE, token or "")
    assert http.get("/staff/config").status_code == 401


def test_login_from_another_site_is_refused(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, _, _ = served
    resp = http.post("/staff/login", data={"name": "physio", "password": PASSWORD},
                     headers={"origin": "https://evil.example"})
    assert resp.status_code == 403 and COOKIE not in resp.headers.get("set-cookie", "")


def test_bodies_over_the_limit_are_refused_before_gradio(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, _, _ = served
    resp = http.post("/gradio_api/call/chat", json={"data": ["x" * 2_000_000]})
    assert resp.status_code == 413
    chunked = http.post("/gradio_api/call/chat", content=iter([b'{"data": ["', b"y" * 200_000, b'"]}']),
                        headers={"content-type": "application/json"})
    assert chunked.status_code == 413


def test_over_long_message_is_refused_not_answered(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, _, bot = served
    limit = bot.settings.safety.max_input_chars
    message = "knee pain " * (limit // 10 + 50)
    kind, output = call(http, "chat", [message])
    assert kind == "complete" and output is not None
    reply = json.dumps(output[1][-1]["content"])
    assert f"longer than {limit} characters" in reply and "class='referral'" in reply and "source-card" not in reply
    assert output[0] == message  # left in the box to shorten, not cut and answered
    kind, answer = call(http, "ask", [message, None])
    assert kind == "complete" and answer is not None and answer[0]["behavior"] == "clarify"


def test_per_address_limit_holds_across_new_sessions(bot: Assistant) -> None:
    with running(bot, rate_limit_per_minute=10, rate_limit_per_address=3) as (http, _, _):
        outcomes = [call(http, "ask", ["What helps kneecap pain?", None], session_hash=f"s{i:08d}")[0]
                    for i in range(4)]
    assert outcomes == ["complete", "complete", "complete", "error"]


@pytest.mark.parametrize("proxies", [None, ["127.0.0.1"]])
def test_client_addresses_come_from_forwarded_headers_only_behind_a_trusted_proxy(
    bot: Assistant, proxies: list[str] | None
) -> None:
    with running(bot, proxies, rate_limit_per_address=1) as (http, _, _):
        outcomes = []
        for i, client in enumerate(["203.0.113.7", "198.51.100.9"]):
            started = http.post("/gradio_api/call/ask", json={"data": ["What helps kneecap pain?", None],
                                                              "session_hash": f"p{i:08d}"},
                                headers={"x-forwarded-for": client})
            stream = http.get(f"/gradio_api/call/ask/{started.json()['event_id']}").text
            outcomes.append("event: complete" in stream)
    # Behind the proxy each runner has their own limit; without one, a forged header cannot dodge it.
    assert outcomes == ([True, True] if proxies else [True, False])


def test_upload_route_is_only_for_signed_in_staff(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, _, _ = served
    files = [("files", (f"f{i}.md", b"# note\n", "text/markdown")) for i in range(3)]
    assert http.post("/gradio_api/upload", files=files).status_code == 404
    assert http.post("/staff/gradio_api/upload", files=files).status_code == 401
    staff_login(http)
    assert http.post("/staff/gradio_api/upload", files=files).status_code == 200
    many = [("files", (f"f{i}.md", b"# note\n", "text/markdown")) for i in range(11)]
    assert http.post("/staff/gradio_api/upload", files=many).status_code == 413


def test_one_rating_per_answer_and_nothing_over_the_limit_stored(assistant: Assistant) -> None:  # its own data folder
    import gradio as gr

    web = create_app(assistant)
    respond = next(f.fn for f in web.runner.fns.values() if f.name == "respond")
    on_like = next(f.fn for f in web.runner.fns.values() if f.name == "on_like")
    *_, (_, shown, state) = respond("What helps kneecap pain?", None, None)
    like = gr.LikeData(None, {"index": len(shown) - 1, "value": shown[-1], "liked": False})
    assert "review" in on_like(state, like, None)
    assert "already" in on_like(state, like, None)
    *_, (_, shown, state) = respond("knee " * 5000, state, None)
    like = gr.LikeData(None, {"index": len(shown) - 1, "value": shown[-1], "liked": True})
    assert on_like(state, like, None) == ""  # a refusal for length is not an answer: nothing to rate, nothing kept
    entries = FeedbackStore.in_data_dir(assistant.settings.paths.data_dir).entries()
    assert len(entries) == 1 and len(entries[0].question) < 100


# -- Low -----------------------------------------------------------------------------------------------------------
def test_public_api_and_config_expose_nothing_of_the_staff(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, _, _ = served
    config = http.get("/config").text
    assert "staff" not in config.lower() and "/tmp" not in config and "suites" not in config
    assert http.get("/staff/config").status_code == 401
    kind, output = call(http, "ask", ["What helps kneecap pain?", None])
    assert kind == "complete" and output is not None
    assert set(output[0]) == {"text", "body", "behavior", "tier", "referral", "citations"}


def test_headers_and_hosts(served: tuple[httpx.Client, WebApp, Assistant]) -> None:
    http, _, _ = served
    page = http.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'self'" in csp
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert page.text.count("<script") == page.text.count(f'<script nonce="{nonce}"')
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in http.get("/staff/login").headers["content-security-policy"]
    assert http.get("/", headers={"host": "evil.example"}).status_code == 400
    cors = http.get("/config", headers={"origin": "http://localhost:9999"})
    assert "access-control-allow-origin" not in cors.headers


def test_settings_name_the_sites_that_may_embed_and_call(bot: Assistant) -> None:
    site = "https://clinic.example"
    with running(bot, frame_ancestors=[site], cors_origins=[site],
                 allowed_hosts=["127.0.0.1", "knee.clinic.example"]) as (http, _, _):
        page = http.get("/")
        assert f"frame-ancestors 'self' {site}" in page.headers["content-security-policy"]
        allowed = http.get("/config", headers={"origin": site})
        assert allowed.headers.get("access-control-allow-origin") == site
        other = http.get("/config", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        assert http.get("/", headers={"host": "knee.clinic.example"}).status_code == 200
