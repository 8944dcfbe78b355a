"""What the browser tests share: Debian's Chromium driven by Playwright, and the app served on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from playwright import sync_api  # the dev extra installs it; a missing one is a broken install

from assistant import Assistant
from assistant.ui.app import create_app, serve
from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    assert CHROMIUM.exists(), "needs /usr/bin/chromium: `make test` installs it with apt-get"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def running_app(bot: Assistant, root_path: str = "", trusted_proxies: list[str] | None = None,
                **ui: Any) -> Iterator[tuple[str, int]]:
    """The app over ``bot`` with the ``ui`` settings changed while it runs; yields (address, port)."""
    settings = bot.settings.ui
    old = {key: getattr(settings, key) for key in ui}
    for key, value in ui.items():
        setattr(settings, key, value)
    app = create_app(bot)
    port = free_port()
    serve(app, "127.0.0.1", port, block=False, root_path=root_path, trusted_proxies=trusted_proxies)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        app.close()
        for key, value in old.items():
            setattr(settings, key, value)
