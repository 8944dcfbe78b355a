"""LLM backend faults against the real `openai` provider on loopback: every fault falls back to the extractive answer
within timeout + 2 s, with at most 2 retries, the referral present, no stack trace for the runner and the reason in
the staff view.

All faults are asked at once (each against its own server), then the test waits for the abandoned requests to stop
retrying before it counts the attempts each server saw.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant import Answer, build_assistant
from assistant.config import LLMSettings
from assistant.providers.embeddings import LocalEmbeddings
from assistant.schema import AskOptions
from assistant.ui.render import answer_markdown
from assistant.ui.staff_ask import inside_view
from benchmarks.kill_ingest import MemoEmbeddings
from tests.conftest import FIXTURE_ARTICLES, free_port, make_settings
from tests.llm_servers import FaultyOpenAI

TIMEOUT_S = 2.0
MAX_ATTEMPTS = 3  # the first request and llm.max_retries = 2
QUESTION = "What helps kneecap pain?"
# fault -> what the reason staff see must say (the request may hit the client's timeout or the answer budget first)
REASONS = {
    "refused": r"ConnectionError",
    "blackhole": r"no complete answer within 2 s|Timeout",
    "stall": r"no complete answer within 2 s|Timeout",
    "stall_midstream": r"no complete answer within 2 s|Timeout",
    "empty": r"ConnectionError",
    "empty_stream": r"No generation chunks were returned",
    "malformed_stream": r"JSONDecodeError",
    "malformed_json": r"No generation chunks were returned|JSONDecodeError",
    "http_500": r"Error code: 500",
    "http_429": r"Error code: 429",
}


@dataclass
class Outcome:
    answer: Answer
    seconds: float
    attempts: int | None  # None: nothing listens, so nothing can count


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> dict[str, Outcome]:
    settings = make_settings(tmp_path_factory.mktemp("llm-faults"), FIXTURE_ARTICLES)
    memo = MemoEmbeddings(embeddings)  # the ten assistants embed the same scope examples once
    assert build_assistant(settings, embeddings=memo).ingest([FIXTURE_ARTICLES]).ok
    servers = {fault: FaultyOpenAI(fault) for fault in FaultyOpenAI.FAULTS}
    urls = {"refused": f"http://127.0.0.1:{free_port()}/v1", **{f: s.base_url for f, s in servers.items()}}
    bots = {}
    for fault, url in urls.items():
        own = settings.model_copy(deep=True)
        own.llm = LLMSettings(provider="openai", base_url=url, model="knee-test", timeout_s=TIMEOUT_S, max_retries=2)
        bots[fault] = build_assistant(own, embeddings=memo)
        bots[fault].ask(QUESTION, options=AskOptions(extractive=True))  # first-answer costs are not the model's

    def ask(fault: str) -> tuple[Answer, float]:
        start = time.monotonic()
        answer = bots[fault].ask(QUESTION)
        return answer, time.monotonic() - start

    for server in servers.values():
        server.__enter__()
    try:
        with ThreadPoolExecutor(len(urls)) as pool:
            asked = dict(zip(urls, pool.map(ask, urls), strict=True))
        _wait_for_abandoned_requests(limit_s=MAX_ATTEMPTS * TIMEOUT_S + 10)
        got = {f: Outcome(a, s, servers[f].attempts if f in servers else None) for f, (a, s) in asked.items()}
        for fault, o in got.items():
            print(f"{fault:<18} {o.seconds:5.2f} s  attempts {o.attempts}  "
                  f"{[d.reason for d in o.answer.decisions if d.stage == 'compose']}")
        return got
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)


def _wait_for_abandoned_requests(limit_s: float) -> None:
    """The model's stream keeps retrying in the background after the fallback; wait until every one gave up."""
    deadline = time.monotonic() + limit_s
    while any(t.name == "llm-stream" and t.is_alive() for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a model request never gave up"
        time.sleep(0.1)


@pytest.mark.parametrize("fault", list(REASONS))
def test_llm_fault_falls_back_to_extractive(outcomes: dict[str, Outcome], fault: str) -> None:
    got = outcomes[fault]
    answer = got.answer
    assert got.seconds <= TIMEOUT_S + 2, f"{fault}: answered after {got.seconds:.1f} s"
    if got.attempts is not None:
        assert 1 <= got.attempts <= MAX_ATTEMPTS, f"{fault}: {got.attempts} requests"
    # the extractive answer, cited, with the referral (the prompt was sent, or the fault came before it could be)
    assert answer.behavior == "answer" and answer.citations
    sources = {p.stem: p.read_text(encoding="utf-8") for p in Path(FIXTURE_ARTICLES).iterdir()}
    assert all(c.quote in sources[c.doc_id] for c in answer.citations)
    assert answer.referral and answer.text.endswith(f"**{answer.referral}**")
    # staff see why; the runner sees no trace of it
    fallbacks = [d.reason for d in answer.decisions if d.stage == "compose" and d.outcome == "fallback"]
    assert len(fallbacks) == 1 and re.search(REASONS[fault], fallbacks[0]), (fault, fallbacks)
    assert ["compose", "fallback", fallbacks[0]] in inside_view(answer)["decisions"]
    runner = answer.text + answer_markdown(answer)
    for leak in ("Traceback", "Error", fallbacks[0], "File \"", "127.0.0.1"):
        assert leak not in runner, (fault, leak)


def test_retryable_faults_are_retried_at_most_twice(outcomes: dict[str, Outcome]) -> None:
    """Connection failures, timeouts, 500 and 429 are retried; the client gives up after the second retry."""
    for fault in ("blackhole", "stall", "empty", "http_500", "http_429"):
        assert outcomes[fault].attempts == MAX_ATTEMPTS, (fault, outcomes[fault].attempts)
    for fault in ("stall_midstream", "empty_stream", "malformed_stream", "malformed_json"):
        assert outcomes[fault].attempts == 1, (fault, outcomes[fault].attempts)
