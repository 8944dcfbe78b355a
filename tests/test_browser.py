"""The app in a real browser: Debian's Chromium driven by Playwright, screenshots into tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from assistant import Assistant
from assistant.ui.feedback import FeedbackStore
from assistant.ui.staff_login import REFUSED
from tests.browser_support import ARTIFACTS, chromium, running_app

PASSWORD = "staff-only"
ANSWER_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def served(corpus_assistant: Assistant) -> Iterator[tuple[str, Assistant]]:
    with running_app(corpus_assistant, staff_password=PASSWORD) as (url, _):
        yield url, corpus_assistant


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _ask(page: Any, question: str, expect_selector: str) -> Any:
    """Type a question, send it, and wait until the newest bot message shows ``expect_selector``."""
    before = page.locator("#chat .message-row.bot-row, #chat .bot-row").count()
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    page.wait_for_function(
        "([n, sel]) => { const rows = document.querySelectorAll('#chat .bot-row');"
        " return rows.length > n && rows[rows.length - 1].querySelector(sel) !== null; }",
        arg=[before, expect_selector], timeout=ANSWER_TIMEOUT_MS,
    )
    return page.locator("#chat .bot-row").last


def test_runner_sees_answer_source_cards_and_referral(served: tuple[str, Assistant], browser: Any) -> None:
    url, bot = served
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(url + "/", wait_until="load")
    assert "not a diagnosis" in page.locator("#notice").inner_text()
    reply = _ask(page, "What helps IT band syndrome?", ".referral")
    assert reply.locator(".source-card").count() >= 1
    assert reply.locator("a.fn").count() >= 1
    reply.locator(".source-card summary").first.click()
    quote = reply.locator(".source-card .src-quote").first
    assert quote.is_visible() and quote.inner_text().strip()
    assert "See a professional" in reply.locator(".referral").inner_text()

    urgent = _ask(page, "My knee locked after a fall and I can't put any weight on it", ".urgent-alert")
    assert "Urgent" in urgent.locator(".urgent-alert").inner_text()
    assert urgent.locator(".referral").is_visible()
    urgent.locator(".source-card summary").first.click()
    urgent.locator(".urgent-alert").evaluate("el => el.scrollIntoView({block: 'start'})")  # show the reply's top
    page.screenshot(path=str(ARTIFACTS / "runner-desktop.png"), full_page=True)

    page.locator("#chat button[aria-label='Dislike']").last.click()  # the buttons sit beside the message row
    page.wait_for_function("() => document.querySelector('#feedback-status')?.innerText.includes('Thanks')",
                           timeout=10_000)
    entries = FeedbackStore.in_data_dir(bot.settings.paths.data_dir).entries()
    assert entries[0].rating == "down" and entries[0].behavior == "urgent_referral"
    page.close()


def test_runner_chat_fits_a_phone(served: tuple[str, Assistant], browser: Any) -> None:
    url, _ = served
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page.goto(url + "/", wait_until="load")
    reply = _ask(page, "What is runner's knee?", ".referral")
    assert reply.locator(".source-card").count() >= 1
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 400, f"page scrolls sideways at phone width ({width}px)"
    reply.locator(".source-card summary").first.click()
    # One exchange so far: scroll the chat up to its start as a runner would (Gradio stops autoscrolling then).
    page.wait_for_timeout(1000)
    page.locator("#chat").hover()
    page.mouse.wheel(0, -5000)
    page.wait_for_timeout(500)
    # Not full_page: resizing the viewport for it makes the chat scroll back to its newest line.
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "runner-phone.png"))
    page.close()


def _sign_in(page: Any, url: str, password: str) -> None:
    page.goto(url + "/staff", wait_until="load")  # sent to the sign-in form
    page.locator("#name").fill("staff")
    page.locator("#password").fill(password)
    page.locator("#sign-in").click()
    page.wait_for_load_state("load")


def test_staff_console_refuses_wrong_password_then_shows_pipeline(served: tuple[str, Assistant], browser: Any) -> None:
    url, _ = served
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    _sign_in(page, url, "guess")
    assert REFUSED in page.locator(".error").inner_text() and page.url.endswith("/staff/login")
    assert page.locator("#staff-question").count() == 0
    page.screenshot(path=str(ARTIFACTS / "staff-refused.png"), full_page=True)

    _sign_in(page, url, PASSWORD)
    page.locator("#staff-question textarea").wait_for(state="visible", timeout=30_000)
    page.locator("#staff-question textarea").fill("Why does the front of my knee hurt on stairs?")
    page.locator("#staff-ask").click()
    page.wait_for_function("() => document.querySelector('#staff-summary')?.innerText.includes('Retrieval query')",
                           timeout=ANSWER_TIMEOUT_MS)
    body = page.locator("body").inner_text()
    for heading in ("Retrieved candidates", "Chosen sentences", "Guardrail decisions", "Latency per stage"):
        assert heading in body
    assert "patellofemoral" in body.lower()
    page.screenshot(path=str(ARTIFACTS / "staff-console.png"), full_page=True)

    page.get_by_role("tab", name="Documents").click()
    page.locator("#staff-verify").click()
    page.wait_for_function("() => document.querySelector('#staff-verify-status')?.innerText.includes('consistent')",
                           timeout=ANSWER_TIMEOUT_MS)
    table = page.locator("#staff-documents").inner_text()
    assert "adolescent-runners" in table and "article" in table  # filled when the console opened
    page.screenshot(path=str(ARTIFACTS / "staff-documents.png"), full_page=True)
    page.close()


def test_nothing_private_stays_in_the_browser_and_pages_run_under_the_csp(served: tuple[str, Assistant],
                                                                          browser: Any) -> None:
    """Security review: run history kept questions and the staff password in localStorage; markup in a message ran."""
    url, _ = served
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    violations: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url + "/", wait_until="load")
    question = "My private knee question <img src=x onerror=alert(1)> about stairs"
    reply = _ask(page, question, ".referral")
    assert reply.locator(".source-card").count() >= 1
    user_row = page.locator("#chat .user-row").last
    assert "<img src=x" in user_row.inner_text() and user_row.locator("img").count() == 0
    _sign_in(page, url, PASSWORD)
    page.locator("#staff-question textarea").wait_for(state="visible", timeout=30_000)
    stored = page.evaluate("() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert "private knee question" not in stored and PASSWORD not in stored
    assert "knee_staff" not in page.evaluate("() => document.cookie")  # HttpOnly: no script can read it
    assert not dialogs, dialogs
    assert not violations, violations[:3]  # Gradio's pages work with scripts limited to the app and its nonce
    page.locator("#staff-logout").click()
    page.wait_for_url("**/staff/login", timeout=10_000)
    page.goto(url + "/staff/", wait_until="load")
    assert page.url.endswith("/staff/login")
    context.close()


def test_runner_sees_words_and_urgent_advice_during_an_outage(served: tuple[str, Assistant], browser: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23: a backend failure showed a bare "Error" and lost the typed question."""
    from assistant.errors import BackendUnavailable

    url, bot = served

    def down(*args: Any, **kwargs: Any) -> Any:
        raise BackendUnavailable("Chroma server cannot be reached")

    monkeypatch.setattr(bot._retriever, "retrieve", down)
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page.goto(url + "/", wait_until="load")
    question = "My calf is swollen and hot and I get out of breath since my long run"
    reply = _ask(page, question, ".referral")
    assert reply.locator(".urgent-alert").count() == 1 and "checked today" in reply.inner_text()
    assert "reviewed sources" in reply.inner_text() and "Error" not in reply.inner_text()
    assert page.locator("#question textarea").input_value() == question  # kept, to send again
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "runner-outage-phone.png"))
    page.close()
