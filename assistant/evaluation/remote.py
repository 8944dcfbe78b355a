"""``knee-assistant eval --url``: the suites asked of a served app through its public ``/ask`` API.

What is measured is the deployed site: its corpus, its settings, its LLM, its limits. The client keeps to the app's
rate limit: it spaces questions ``per_minute`` apart and, when the app still says "wait about N seconds" (or is
busy), waits and asks again, so a limit never turns into failed cases. The app's ``/about`` says what answered
(backend, model, commit, corpus fingerprint; never a secret) and goes into the report's configuration.

Citations are checked against this machine's corpus folder (the server's staff uploads are not visible from here,
which the report says), and answers are scored with the local embedding model, as for a local run.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.error import URLError

from assistant.config import Settings
from assistant.errors import InputError
from assistant.evaluation.judge import Judge
from assistant.evaluation.runinfo import ConfigValue, without_secrets
from assistant.evaluation.runner import Target, source_texts, system_prompt
from assistant.evaluation.scorers import Context
from assistant.schema import Answer, Citation

_WAIT = re.compile(r"wait about (\d+) seconds", re.I)
_BUSY = re.compile(r"\bbusy\b", re.I)
RETRIES = 8  # waits for the rate limit or a busy app before a case is recorded as failed
BUSY_WAIT_S = 5.0


class RemoteAsk:
    """Asks a served app's ``/ask``, spaced to its rate limit, waiting when it says to."""

    def __init__(self, url: str, per_minute: float, sleep: Callable[[float], None] = time.sleep) -> None:
        from gradio_client import Client

        try:
            self._client = Client(url, verbose=False, download_files=False)
        except Exception as exc:  # connection refused, not a Gradio app, a proxy error page...
            raise InputError(f"--url {without_secrets(url)}: no knee-assistant app answered there ({exc})") from exc
        self._gap = 60.0 / per_minute
        self._sleep = sleep
        self._last = 0.0
        self.waits = 0

    def __call__(self, question: str, history: list[tuple[str, str]] | None) -> Answer:
        pause = self._last + self._gap - time.monotonic()
        if pause > 0:
            self._sleep(pause)
        started = time.perf_counter()
        for _ in range(RETRIES):
            self._last = time.monotonic()
            try:
                data = self._client.predict(question, [list(t) for t in history or []], api_name="/ask")
            except Exception as exc:  # gradio_client raises the app's gr.Error as AppError
                wait = _wait_for(str(exc))
                if wait is None:
                    raise
                self.waits += 1
                self._sleep(wait)
                continue
            return runner_answer(data, (time.perf_counter() - started) * 1000)
        raise RuntimeError(f"the app was still refusing after {RETRIES} waits (rate limit or busy)")


def _wait_for(message: str) -> float | None:
    """Seconds to wait when the app asks for patience; None for any other error."""
    if found := _WAIT.search(message):
        return float(found.group(1)) + 1.0
    return BUSY_WAIT_S if _BUSY.search(message) else None


def runner_answer(data: Any, total_ms: float) -> Answer:
    """An ``Answer`` from the runner's view that ``/ask`` returns (no candidates or decisions: those stay inside)."""
    if not isinstance(data, dict):
        raise ValueError(f"/ask returned {type(data).__name__}, not an answer")
    return Answer(text=str(data.get("text", "")), body=str(data.get("body", "")),
                  citations=[Citation.model_validate(c) for c in data.get("citations") or []],
                  behavior=data.get("behavior", "error"), tier=data.get("tier", "routine"),
                  referral=str(data.get("referral") or "(no referral)"), timings={"total": round(total_ms, 2)})


def about(url: str) -> dict[str, Any]:
    """The app's ``/about`` (what answers there); empty when the app is older than that endpoint."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/about", timeout=10) as resp:
            data = json.loads(resp.read().decode("utf-8"))
    except (URLError, OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remote_target(url: str, settings: Settings, per_minute: float, judge: Judge | None = None) -> Target:
    """A served app as the target; scoring uses this machine's embedding model, corpus folder and prompts."""
    from assistant.providers.embeddings import LocalEmbeddings

    if not url.startswith(("http://", "https://")):
        raise InputError(f"--url {url!r}: expected an http:// or https:// address of the chat")
    ask = RemoteAsk(url, per_minute)
    served = about(url)
    embeddings = LocalEmbeddings(settings.embeddings)

    def embed(texts: list[str]) -> Any:
        import numpy as np

        return np.asarray(embeddings.embed_documents(texts), dtype=np.float32).reshape(len(texts), -1)

    corpus = settings.paths.corpus_dir
    context = Context(sources=source_texts(corpus), system_prompt=system_prompt(settings.paths.prompts_dir),
                      origin=f"the files of {corpus} on this machine (staff uploads on the server are not seen)",
                      embed=embed, judge=judge)
    config: dict[str, ConfigValue] = {"target": without_secrets(url)}
    config.update({k: v for k, v in served.items() if isinstance(v, str | int | float | bool) or v is None})
    config["rate.per_minute"] = per_minute
    if judge is not None:
        config["judge"] = judge.label
    index: dict[str, Any] = {"documents": served.get("corpus.documents", "?"),
                             "chunks": served.get("corpus.chunks", "?")}
    return Target(ask=ask, context=context, config=config, index=index)
