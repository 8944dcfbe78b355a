"""Issue 21 in real Chromium: the phone-first answer view, working citations, the counter, clean chrome, the embed.

Each test saves desktop and phone screenshots into tests/artifacts/ (site-*.png).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant
from assistant.ui.feedback import REASONS, FeedbackStore
from assistant.ui.render import STARTERS
from tests.browser_support import ARTIFACTS, chromium, running_app
from tests.conftest import free_port
from tests.prefix_proxy import prefix_proxy

ANSWER_MS = 60_000
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
URGENT = "My knee locked after a fall and I can't put any weight on it"
LIMIT = 2000


@pytest.fixture(scope="module")
def host_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def site(corpus_assistant: Assistant, host_port: int) -> Iterator[tuple[str, Assistant]]:
    """The app on 127.0.0.1, with one other origin (http://localhost:<host_port>) allowed to frame the chat."""
    with running_app(corpus_assistant, frame_ancestors=[f"http://localhost:{host_port}"]) as (url, _):
        yield url, corpus_assistant


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _open(browser: Any, url: str, device: dict[str, Any]) -> Any:
    page = browser.new_page(**device)
    page.goto(url + "/", wait_until="load")
    page.locator("#question textarea").wait_for(state="visible", timeout=30_000)
    return page


def _ask(scope: Any, question: str, expect: str) -> Any:
    """Send a question in ``scope`` (a page or a frame) and wait until the newest reply shows ``expect``."""
    before = scope.locator("#chat .bot-row").count()
    scope.locator("#question textarea").fill(question)
    scope.locator("#question textarea").press("Enter")
    newest = scope.locator("#chat .bot-row").nth(before)
    newest.locator(expect).first.wait_for(state="attached", timeout=ANSWER_MS)
    time.sleep(0.6)  # the script positions the reply on the next frames
    return newest


def _in_view(page: Any, locator: Any) -> bool:
    box = locator.bounding_box()
    height = page.viewport_size["height"]
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= height


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_an_urgent_reply_opens_with_its_alert_on_screen(site: tuple[str, Assistant], browser: Any,
                                                         device: str) -> None:
    """The chat scrolled to the end of each answer: an urgent reply's alert was off screen on a phone."""
    url, _ = site
    page = _open(browser, url, PHONE if device == "phone" else DESKTOP)
    _ask(page, "What helps IT band syndrome?", ".referral")  # a long answer first, so there is something to scroll
    reply = _ask(page, URGENT, ".urgent-alert")
    alert = reply.locator(".urgent-alert")
    assert _in_view(page, alert), f"the alert is off screen: {alert.bounding_box()}"
    assert "Urgent" in alert.inner_text()
    # The reply's start, not its end: the alert sits above the reply's sources and referral.
    assert alert.bounding_box()["y"] < reply.locator(".referral").bounding_box()["y"]
    # No label lies over the first line (the sticky "Conversation" label did).
    assert page.locator("#chat label, #chat .label-wrap").filter(has_text="Conversation").count() == 0
    page.screenshot(path=str(ARTIFACTS / f"site-urgent-{device}.png"))
    page.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_each_new_reply_opens_at_its_start(site: tuple[str, Assistant], browser: Any, device: str) -> None:
    """Only urgent replies were brought to their start; others left the previous referral filling a phone's screen."""
    url, _ = site
    page = _open(browser, url, PHONE if device == "phone" else DESKTOP)
    for question in ("What helps IT band syndrome?", "Do knee braces or taping help?",
                     "I have run for ten years and lately my knee aches after long runs, mostly going downhill and "
                     "on stairs, and it feels stiff after sitting. Could this be runner's knee and what should I try?"):
        reply = _ask(page, question, ".referral")
        page.wait_for_timeout(400)
        start = reply.bounding_box()
        chat = page.locator("#chat").bounding_box()
        at_end = page.evaluate("() => { const w = document.querySelector('#chat .bubble-wrap');"
                               " return w.scrollTop + w.clientHeight >= w.scrollHeight - 4; }")
        # The new reply's start is at the chat's top, or as near as it goes: a reply shorter than the chat ends the
        # scrolling with its start lower down (and all of it on screen).
        assert start and chat and (abs(start["y"] - chat["y"]) < 60 or at_end), (question, start, chat)
        assert start["y"] >= chat["y"], (question, start, chat)
        assert 0 <= start["y"] < page.viewport_size["height"] / 2, (question, start)
    page.screenshot(path=str(ARTIFACTS / f"site-third-reply-{device}.png"))
    page.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_clicking_a_marker_opens_its_source_card(site: tuple[str, Assistant], browser: Any, device: str) -> None:
    url, _ = site
    page = _open(browser, url, PHONE if device == "phone" else DESKTOP)
    reply = _ask(page, "Do knee braces or taping help?", ".referral")
    marker = reply.locator("a.fn").last
    n = marker.inner_text().strip("[]")
    assert n.isdigit()
    cards = reply.locator("details.source-card")
    assert cards.count() >= 1 and not any(cards.nth(i).evaluate("el => el.open") for i in range(cards.count()))
    marker.click()
    card = reply.locator(f"details.source-card.cites-{n}")
    page.wait_for_function("el => el.open", arg=card.element_handle(), timeout=5_000)
    page.wait_for_timeout(300)
    assert _in_view(page, card.locator("summary")), "the opened card is off screen"
    quotes = card.locator(".src-quote").all_inner_texts()
    assert quotes and not any("[S" in q for q in quotes), quotes  # clean text; the references are listed below
    refs = card.locator(".src-refs li")
    assert refs.count() >= 1
    links = [refs.nth(i).locator("a").get_attribute("href") for i in range(refs.count())
             if refs.nth(i).locator("a").count()]
    assert links and all(link and link.startswith("https://") and link.rstrip("/").count("/") >= 3 for link in links)
    # One card per quoted passage: no two cards of the same article quote the same section.
    sections = [(cards.nth(i).evaluate("el => el.closest('.src-article').querySelector('.src-title').innerText"),
                 cards.nth(i).locator(".src-section").inner_text()) for i in range(cards.count())]
    assert len(sections) == len(set(sections)), sections
    page.screenshot(path=str(ARTIFACTS / f"site-card-{device}.png"))
    page.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_counter_warns_near_the_limit_and_a_long_message_is_kept_not_cut(site: tuple[str, Assistant],
                                                                             browser: Any, device: str) -> None:
    """The box cut messages at 2,000 characters silently and the cut text was answered."""
    url, bot = site
    assert bot.settings.safety.max_input_chars == LIMIT
    page = _open(browser, url, PHONE if device == "phone" else DESKTOP)
    box = page.locator("#question textarea")
    counter = page.locator("#question-count")
    box.fill("My knee hurts on stairs. " * 10)
    page.wait_for_timeout(300)
    assert counter.inner_text().strip() == ""  # far from the limit: nothing shown
    near = ("My knee hurts when I run downhill and on stairs. " * 40)[:1700]
    box.fill(near)
    page.wait_for_function("() => document.querySelector('#question-count').innerText.includes('1,700 / 2,000')",
                           timeout=5_000)
    long = near + " more detail" * 40
    box.fill(long)
    page.wait_for_function("() => document.querySelector('#question-count').innerText.includes('too long')",
                           timeout=5_000)
    assert box.input_value() == long  # nothing cut
    box.press("Enter")
    page.locator("#question button").last.click()
    page.wait_for_timeout(1500)
    assert page.locator("#chat .user-row").count() == 0, "a message over the limit was sent"
    assert box.input_value() == long
    assert "shorten" in counter.inner_text()
    assert _in_view(page, counter), "the warning is below the screen"  # brought into view, not scrolled to by us
    page.screenshot(path=str(ARTIFACTS / f"site-counter-{device}.png"))
    page.close()


def test_the_welcome_shows_starters_above_the_fold_and_one_sends_at_once(site: tuple[str, Assistant],
                                                                         browser: Any) -> None:
    url, _ = site
    page = _open(browser, url, PHONE)
    starter = page.get_by_text(STARTERS[0], exact=True).first
    assert _in_view(page, starter), "the first starter question is below the fold on a phone"
    assert _in_view(page, page.locator("#question textarea")), "the input is below the fold on a phone"
    assert "Ask me about knee pain" in page.locator("#chat").inner_text()
    # Clean chrome: no navigation button, no API footer.
    assert page.get_by_text("Use via API").count() == 0 or not page.get_by_text("Use via API").first.is_visible()
    home = page.get_by_role("link", name="Home")
    assert home.count() == 0 or not home.first.is_visible()
    fonts = page.evaluate("() => [getComputedStyle(document.querySelector('#title h2')).fontFamily,"
                          " getComputedStyle(document.querySelector('#question textarea')).fontFamily]")
    assert fonts[0] == fonts[1] and fonts[0].startswith("system-ui"), fonts
    page.screenshot(path=str(ARTIFACTS / "site-welcome-phone.png"))
    starter.click()
    page.locator("#chat .bot-row .referral").first.wait_for(timeout=ANSWER_MS)
    assert STARTERS[0] in page.locator("#chat .user-row").first.inner_text()
    page.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_thumbs_down_can_say_what_was_wrong(site: tuple[str, Assistant], browser: Any, device: str) -> None:
    url, bot = site
    page = _open(browser, url, PHONE if device == "phone" else DESKTOP)
    _ask(page, "Is cycling OK with runner's knee?", ".referral")
    page.locator("#chat button[aria-label='Dislike']").last.click()
    reasons = page.locator("#feedback-reasons")
    reasons.wait_for(state="visible", timeout=10_000)
    page.wait_for_timeout(500)
    assert _in_view(page, page.get_by_label(REASONS[0])), "the choices opened below the screen"
    page.get_by_label(REASONS[0]).check()
    page.wait_for_function("() => document.querySelector('#feedback-status')?.innerText.includes('helps staff')",
                           timeout=10_000)
    newest = FeedbackStore.in_data_dir(bot.settings.paths.data_dir).entries(1)[0]
    assert newest.rating == "down" and newest.reason == REASONS[0]
    assert newest.question == "Is cycling OK with runner's knee?"
    page.close()


@pytest.fixture(scope="module")
def host_site(host_port: int, site: tuple[str, Assistant], tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[str]:
    """A clinic's page on another origin, embedding the chat with the documented two-line snippet."""
    url, _ = site
    root = tmp_path_factory.mktemp("clinic-site")
    filler = "".join(f"<p>Clinic news item {i}: opening hours, parking and team updates.</p>" for i in range(6))
    (root / "index.html").write_text(
        "<!doctype html><html><head><meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Clinic</title><style>body{font-family:sans-serif;margin:0 auto;max-width:900px;padding:8px}</style>"
        f"</head><body><h1>Sports clinic</h1>{filler}<h2>Ask about knee pain</h2>"
        f"<div data-knee-assistant></div><script src='{url}/embed.js' async></script>"
        "<p>Footer of the clinic page.</p></body></html>", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", host_port), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{host_port}/"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_embed_works_on_another_origin(host_site: str, browser: Any, device: str) -> None:
    """The embed example hard-coded hashed asset names and was blank after an upgrade; on a phone the input was cut."""
    page = browser.new_page(**(PHONE if device == "phone" else DESKTOP))
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(host_site, wait_until="load")
    frame_el = page.locator("iframe.knee-assistant")
    frame_el.wait_for(state="attached", timeout=10_000)
    frame = page.frame_locator("iframe.knee-assistant")
    frame.locator("#question textarea").wait_for(state="visible", timeout=30_000)
    reply = _ask(frame, "What is runner's knee?", ".referral")
    assert reply.locator(".source-card").count() >= 1
    page.wait_for_timeout(1500)  # the iframe's height follows the chat
    height = page.viewport_size["height"]
    box = frame_el.bounding_box()
    assert box and box["height"] <= height + 2, f"the chat is taller than the screen: {box}"
    assert box["height"] >= min(height, 760) * 0.6, f"the chat is squeezed: {box}"
    frame_el.scroll_into_view_if_needed()
    page.evaluate("el => el.scrollIntoView({block: 'start'})", frame_el.element_handle())
    page.wait_for_timeout(300)
    inner = frame.locator("#question textarea").bounding_box()  # page coordinates
    assert inner and inner["y"] >= 0 and inner["y"] + inner["height"] <= height, f"the input is cut off: {inner}"
    assert not [e for e in errors if "frame-ancestors" in e or "Refused" in e], errors
    page.screenshot(path=str(ARTIFACTS / f"site-embed-{device}.png"))
    page.close()


def test_the_embed_is_refused_by_a_site_not_listed(site: tuple[str, Assistant], browser: Any,
                                                   tmp_path: Path) -> None:
    """frame-ancestors still protects the chat: a page on an origin not in ui.frame_ancestors shows no chat."""
    url, _ = site
    other = free_port()
    (tmp_path / "index.html").write_text(f"<!doctype html><div data-knee-assistant></div>"
                                         f"<script src='{url}/embed.js'></script>", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", other), partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = browser.new_page(**DESKTOP)
        page.goto(f"http://localhost:{other}/", wait_until="load")
        page.locator("iframe.knee-assistant").wait_for(state="attached", timeout=10_000)
        page.wait_for_timeout(3000)
        frame = page.frame_locator("iframe.knee-assistant")
        assert frame.locator("#question textarea").count() == 0
        # Visitors get a link instead of a blank box once the chat has not reported for a while.
        note = page.locator(".knee-assistant-unavailable")
        note.wait_for(state="visible", timeout=30_000)
        assert note.locator("a").get_attribute("href") == url + "/"
        assert not page.locator("iframe.knee-assistant").is_visible()
        page.close()
    finally:
        server.shutdown()
        server.server_close()


def test_the_app_works_under_a_sub_path_behind_a_proxy(corpus_assistant: Assistant, browser: Any) -> None:
    """ui.root_path: a proxy serves the app at /knee/ and forwards requests with the prefix removed."""
    with running_app(corpus_assistant, root_path="/knee", trusted_proxies=["127.0.0.1"],
                     staff_password="sub-path staff") as (_, port), prefix_proxy("/knee", port) as proxy:
        base = f"http://127.0.0.1:{proxy.port}/knee"
        page = _open(browser, base, PHONE)
        reply = _ask(page, "What is runner's knee?", ".referral")
        assert reply.locator(".source-card").count() >= 1
        reply.locator("a.fn").first.click()  # chat.js loaded from /knee/chat.js
        page.wait_for_function("() => document.querySelector('#chat details.source-card[open]') !== null",
                               timeout=5_000)
        assert page.request.get(base + "/embed.js").status == 200
        assert page.request.get(base + "/health").json() == {"status": "ready"}
        page.goto(base + "/staff", wait_until="load")
        assert page.url == base + "/staff/login"
        staff_csp = page.request.get(base + "/staff/login").headers["content-security-policy"]
        assert "frame-ancestors 'none'" in staff_csp
        page.screenshot(path=str(ARTIFACTS / "site-subpath-phone.png"))
        page.close()


def test_a_system_reply_offers_no_thumbs(corpus_assistant: Assistant, browser: Any) -> None:
    """Thumbs appeared on rate-limit and busy messages, which are not answers."""
    with running_app(corpus_assistant, rate_limit_per_minute=1) as (url, _):
        page = _open(browser, url, DESKTOP)
        answered = _ask(page, "What is runner's knee?", ".referral")
        waiting = _ask(page, "What helps IT band syndrome?", ".system-reply")
        assert "wait" in waiting.inner_text().lower()
        buttons = "xpath=following-sibling::div[contains(@class, 'message-buttons')][1]"
        assert answered.locator(buttons).locator("button[aria-label='Dislike']").is_visible()
        assert not waiting.locator(buttons).locator("button[aria-label='Dislike']").is_visible()
        page.screenshot(path=str(ARTIFACTS / "site-system-reply-desktop.png"))
        page.close()
