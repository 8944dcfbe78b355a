"""The Gradio app: the runner chat at ``/`` (with the ``/ask`` JSON API) and the staff console at ``/staff``."""

from __future__ import annotations

import os
from typing import Any

from assistant.rag.service import Assistant
from assistant.ui.ratelimit import BUSY as BUSY  # the reply past the queue limit (runner_chat.py)


def create_app(assistant: Assistant) -> Any:
    """Build (not launch) the Blocks app, so tests can inspect it without a server."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import gradio as gr

    from assistant.ui.feedback import FeedbackStore
    from assistant.ui.ratelimit import SessionRateLimiter
    from assistant.ui.runner_chat import build_runner
    from assistant.ui.staff import build_staff

    settings = assistant.settings
    feedback = FeedbackStore.in_data_dir(settings.paths.data_dir)
    limiter = SessionRateLimiter(settings.ui.rate_limit_per_minute)
    with gr.Blocks(title="Runner's Knee Assistant", analytics_enabled=False) as app:
        gr.components.Navbar(visible=False)  # one page for runners; a lone "Home" tab only takes phone space
        build_runner(assistant, feedback, limiter)
    with app.route("Staff", "/staff", show_in_navbar=False):  # staff know the address; runners need no link
        build_staff(assistant, feedback, settings.ui.staff_password)
    # Gradio summarises its last 10,000 events with pandas after every event, for the monitoring page this app keeps
    # off: about 3 ms per question at first, 13 ms once 10,000 have been served. The queue reads these when built.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "100")
    # The runner chat's gate (ratelimit.AnswerGate) holds ui.queue_size questions and says BUSY past that; Gradio's
    # queue only absorbs bursts on their way to it (its generic "queue full" error is a backstop), and each question
    # waiting at the gate holds one of Gradio's worker threads.
    app.queue(max_size=settings.ui.queue_size + 64, default_concurrency_limit=2)
    app.max_threads = max(app.max_threads, settings.ui.queue_size + 24)
    return app


def serve(app: Any, host: str, port: int, *, block: bool = True, max_upload_mb: float | None = None,
          sessions_kept: int | None = None) -> None:
    """Launch a built app with the project's options: no share link, no analytics, the app's CSS.

    ``max_upload_mb`` makes Gradio refuse bigger uploads before they reach its temp folder; ``sessions_kept`` bounds
    the per-session state Gradio holds in memory (``launch`` passes ``ui.sessions_kept``; None: Gradio's 10,000).
    """
    from assistant.ui.theme import CSS

    app.launch(server_name=host, server_port=port, share=False, show_error=False, quiet=True,
               footer_links=["api"], css=CSS, prevent_thread_lock=not block, enable_monitoring=False,
               pwa=False, mcp_server=False, max_file_size=int(max_upload_mb * 1024 * 1024) if max_upload_mb else None,
               max_threads=app.max_threads, **({"state_session_capacity": sessions_kept} if sessions_kept else {}))


def launch(assistant: Assistant, host: str, port: int) -> None:
    """Serve on ``host:port`` (loopback by default) until interrupted."""
    limit_torch_threads(assistant.settings.ui.torch_threads)
    serve(create_app(assistant), host, port, max_upload_mb=assistant.settings.ingest.max_mb,
          sessions_kept=assistant.settings.ui.sessions_kept)


def limit_torch_threads(threads: int) -> None:
    """Give torch ``threads`` intra-op threads in this process; 0 keeps torch's default (one per core)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
