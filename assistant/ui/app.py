"""The served web app: one FastAPI application with the runner chat at ``/`` and the staff console at ``/staff``.

The two are separate Gradio apps, so nothing of the console exists in the runner's page, its ``/config`` or its API:
the console is mounted behind its own login (``staff_login.py``: bcrypt accounts, cookie sessions), and the whole
application sits inside ``security.py``'s middleware (limits, closed routes, headers), a Host allow-list and, only
where configured, CORS.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from assistant.rag.service import Assistant
from assistant.ui.ratelimit import BUSY as BUSY  # the reply past the queue limit (runner_chat.py)


@dataclass
class WebApp:
    """The built application: ``api`` is what a server runs; ``runner`` and ``staff`` are the Gradio apps in it."""

    api: Any
    runner: Any
    staff: Any | None
    _server: Any = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def close(self) -> None:
        """Stop a server started with ``serve(block=False)`` and the Gradio queues."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        for blocks in (self.runner, self.staff):
            if blocks is not None:
                blocks.close()


def create_app(assistant: Assistant) -> WebApp:
    """Build (not serve) the application, so tests can inspect it without a server."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    # Gradio summarises its last 10,000 events with pandas after every event, for the monitoring page this app keeps
    # off: about 3 ms per question at first, 13 ms once 10,000 have been served. The queue reads these when built.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "100")
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from assistant.ui.feedback import FeedbackStore
    from assistant.ui.runner_chat import build_runner_app
    from assistant.ui.security import Limits, SecurityMiddleware
    from assistant.ui.staff import build_staff_app
    from assistant.ui.staff_auth import staff_accounts
    from assistant.ui.staff_login import StaffLogin
    from assistant.ui.theme import CSS, STAFF_CSS, theme

    settings = assistant.settings
    ui = settings.ui
    look = theme()
    accounts = staff_accounts(ui)  # an empty password or a bad hash stops here, before anything is served
    feedback = FeedbackStore.in_data_dir(settings.paths.data_dir)
    api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    common: dict[str, Any] = {"footer_links": [], "run_history": False, "show_error": False,
                              "enable_monitoring": False, "pwa": False, "mcp_server": False, "ssr_mode": False}
    @api.get("/health", include_in_schema=False)
    def health() -> Any:
        """ready / degraded (answers failed in the last minute) / down (the index cannot be read): 503 unless ready."""
        state = assistant.health()
        return JSONResponse({"status": state}, status_code=200 if state == "ready" else 503)

    @api.get("/about", include_in_schema=False)
    def about() -> Any:
        """What answers here (backend, model, retrieval settings, commit, corpus fingerprint; no address or secret):
        ``knee-assistant eval --url`` records it beside its figures."""
        from assistant.evaluation.runinfo import public_configuration

        return JSONResponse(public_configuration(assistant))

    max_upload = int(settings.ingest.max_mb * 1024 * 1024)
    staff = None
    if accounts:
        login = StaffLogin(accounts, ui)
        login.add_routes(api)
        staff = build_staff_app(assistant, feedback)
        _tune(staff, ui.queue_size, ui.sessions_kept)
        gr.mount_gradio_app(api, staff, path="/staff", auth_dependency=login.account_of, max_file_size=max_upload,
                            css=STAFF_CSS, theme=look, **common)
    add_scripts(api)
    runner = build_runner_app(assistant, feedback)
    _tune(runner, ui.queue_size, ui.sessions_kept)
    # The runner's Gradio app has no file input: its upload route is closed (security.py), and this caps the rest.
    # Its page loads /chat.js (relative, so it works under a sub-path too); a script from the app itself passes the CSP.
    gr.mount_gradio_app(api, runner, path="/", max_file_size=1024, css=CSS, theme=look,
                        head='<script src="chat.js" defer></script>', **common)
    upload_bytes = max_upload * ui.max_upload_files + 64 * 1024
    api.add_middleware(SecurityMiddleware, limits=Limits(
        body_bytes=ui.max_request_kb * 1024, upload_bytes=upload_bytes, upload_files=ui.max_upload_files,
        frame_ancestors=tuple(ui.frame_ancestors)))
    if ui.cors_origins:
        api.add_middleware(CORSMiddleware, allow_origins=ui.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST"], allow_headers=["content-type"])
    else:  # a CORSMiddleware that allows no origin, so Gradio adds none of its own (it would reflect localhost:*)
        api.add_middleware(CORSMiddleware, allow_origins=[])
    api.add_middleware(TrustedHostMiddleware, allowed_hosts=_hosts(ui.allowed_hosts, ui.host))
    return WebApp(api=api, runner=runner, staff=staff)


SCRIPTS = ("chat.js", "embed.js")


def add_scripts(api: Any) -> None:
    """Serve the chat's own script and the embed loader at stable paths (``/embed.js`` is what a clinic page loads).

    Both are files of this package, read once; they change only with the app, so a browser may keep them an hour.
    """
    from importlib import resources

    from fastapi.responses import Response

    for name in SCRIPTS:
        body = resources.files("assistant.ui").joinpath("static", name).read_bytes()

        def script(body: bytes = body) -> Any:
            return Response(body, media_type="text/javascript; charset=utf-8",
                            headers={"cache-control": "public, max-age=3600"})

        api.add_api_route("/" + name, script, methods=["GET"], include_in_schema=False)


def _tune(blocks: Any, queue_size: int, sessions_kept: int | None) -> None:
    # The runner chat's gate (ratelimit.AnswerGate) holds ui.queue_size questions and says BUSY past that; Gradio's
    # queue only absorbs bursts on their way to it (its generic "queue full" error is a backstop), and each question
    # waiting at the gate holds one of Gradio's worker threads.
    blocks.queue(max_size=queue_size + 64, default_concurrency_limit=2)
    blocks.max_threads = max(blocks.max_threads, queue_size + 24)
    if sessions_kept:
        blocks.state_session_capacity = sessions_kept


def _hosts(allowed: list[str], bind: str) -> list[str]:
    hosts = {h.strip("[]") for h in allowed}
    if bind not in {"0.0.0.0", "::", ""}:
        hosts.add(bind.strip("[]"))
    # Starlette compares the Host header without its port; an IPv6 literal arrives in brackets.
    return sorted(hosts | {f"[{h}]" for h in hosts if ":" in h})


def serve(web: WebApp, host: str, port: int, *, block: bool = True, trusted_proxies: list[str] | None = None,
          root_path: str = "") -> None:
    """Run the application with uvicorn on ``host:port``; ``block=False`` returns once it accepts connections.

    ``root_path`` is the public sub-path when a proxy strips it before forwarding (``ui.root_path``).
    """
    import uvicorn

    config = uvicorn.Config(web.api, host=host, port=port, log_level="warning", access_log=False, root_path=root_path,
                            proxy_headers=bool(trusted_proxies), forwarded_allow_ips=trusted_proxies or [],
                            server_header=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    web._server = server
    web._thread = threading.Thread(target=server.run, name="knee-web", daemon=True)
    web._thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not web._thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the app did not start on {host}:{port} (is the port in use?)")
        time.sleep(0.05)
    if not block:
        return
    if threading.current_thread() is threading.main_thread():
        # `docker stop` and systemd send SIGTERM: stop as on Ctrl-C (the server runs in a thread, so uvicorn's own
        # handlers are not installed and the process would otherwise be killed after the grace period).
        signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/"
    print(f"ready: the chat is on {base} (embed script {base}embed.js, health {base}health"
          + (f", staff console {base}staff" if web.staff else ", staff console off") + ")"
          + (f"; public sub-path {root_path}" if root_path else ""), file=sys.stderr, flush=True)
    try:
        while web._thread.is_alive():
            web._thread.join(timeout=1)
    except KeyboardInterrupt:
        pass
    finally:
        web.close()


def launch(assistant: Assistant, host: str, port: int) -> None:
    """Serve on ``host:port`` (loopback by default) until interrupted."""
    ui = assistant.settings.ui
    limit_torch_threads(ui.torch_threads)
    # serve prints the ready line
    serve(create_app(assistant), host, port, trusted_proxies=ui.trusted_proxies, root_path=ui.root_path)


def limit_torch_threads(threads: int) -> None:
    """Give torch ``threads`` intra-op threads in this process; 0 keeps torch's default (one per core)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
