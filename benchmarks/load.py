"""Concurrent runners through the served app (HTTP on loopback): latency, errors, memory and busy replies.

    .venv/bin/python -m benchmarks.load [--data-dir .knee-data] [--users 25] [--seconds 60]
                                        [--flood-users 40] [--flood-seconds 10] [--flood-queue 4]

Two runs of `knee-assistant serve`, each in its own process over the same index (the corpus is ingested into a
temporary one without ``--data-dir``); the per-session rate limit is lifted so that every user asks as fast as the
app answers (by default with no think time: the hardest case for the queue, not a realistic runner).

1. load: ``--users`` users (one HTTP connection each, questions of the core suite in turn) for ``--seconds``:
   errors, latency p50/p95 of ``/ask``, answers per second, and the server's RSS after a warm-up under the same load
   (``--warm-seconds``) and at the end, with a sample every 5 s between.
2. flood: ``--flood-users`` users, back to back, against a server whose queue holds ``--flood-queue`` questions:
   how many got the polite busy reply, how fast it came, and that nothing else failed. A user told it is busy waits
   a second before asking again, as the reply asks.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from assistant import build_assistant, load_settings
from assistant.ui.ratelimit import BUSY
from benchmarks.common import (
    CORE_SUITE,
    RESULTS,
    ROOT,
    Question,
    add_server_threads_option,
    cpu_s,
    free_port,
    machine,
    ms_since,
    questions,
    rss_mb,
    serve_subprocess,
    server_threads_env,
    stop,
    summary,
    table,
    wait_http_ok,
    write_result,
)

GOALS = {"errors": 0, "p95_ms": 1500.0, "rss_growth_pct": 10.0, "busy_reply_ms": 1000.0}
NO_RATE_LIMIT = "1000000"


class Refused(Exception):
    """The app replied with an error message (``gr.Error``: busy, too fast) or Gradio turned the request away."""


class User:
    """One runner on Gradio's REST API (POST /gradio_api/call/ask, then its event stream), as curl or locust would.

    gradio_client costs the benchmark process more CPU per question than the server spends answering it, which on
    two cores would measure the client; plain HTTP keeps the load generator light.
    """

    def __init__(self, url: str) -> None:
        import uuid

        import httpx

        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=120)
        self._session = uuid.uuid4().hex  # one session per user, as a browser tab or a gradio_client Client has

    def ask(self, text: str, history: list[tuple[str, str]]) -> dict[str, Any]:
        body = {"data": [text, [list(t) for t in history]], "session_hash": self._session}
        posted = self._http.post("/gradio_api/call/ask", json=body)
        if posted.status_code == 503:
            raise Refused(f"Gradio queue full: {posted.text[:200]}")
        posted.raise_for_status()
        event = ""
        with self._http.stream("GET", f"/gradio_api/call/ask/{posted.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:") and event in {"complete", "error"}:
                    data = json.loads(line.removeprefix("data:").strip() or "null")
                    if event == "complete":
                        return dict(data[0])
                    raise Refused(str((data or {}).get("error") or "error without a message"))
        raise Refused(f"the event stream ended without a result (last event {event!r})")

    def close(self) -> None:
        self._http.close()


def run(url: str, pid: int, users: int, seconds: float, asked: list[Question], think_s: float = 0.0,
        retry_s: float = 1.0, warm_s: float = 10.0) -> dict[str, Any]:
    """``users`` users asking ``asked`` in turn for ``seconds``; the server is process ``pid``.

    A user waits ``think_s`` after an answer and ``retry_s`` after a busy reply (as the reply asks) before asking again.
    The same load runs ``warm_s`` first, unmeasured: the server's worker threads, torch's per-shape kernels and
    Gradio's buffers grow to the working set of this concurrency, so RSS growth afterwards is what a steady load adds.
    RSS is sampled every five seconds of the measured run (``rss_mb.timeline``).
    """
    clients = [User(url) for _ in range(users)]
    with ThreadPoolExecutor(users) as pool:
        rss_cold = rss_mb(pid)
        _load(pool, clients, asked, warm_s, think_s, retry_s)
        rss_before = rss_mb(pid)
        started = time.perf_counter()
        cpu_before = {"server": cpu_s(pid), "benchmark": cpu_s()}
        samples, errors, timeline = _load(pool, clients, asked, seconds, think_s, retry_s, pid=pid)
        elapsed = time.perf_counter() - started
        cpu = {"server": cpu_s(pid) - cpu_before["server"], "benchmark": cpu_s() - cpu_before["benchmark"]}
    for client in clients:
        client.close()
    rss_after = rss_mb(pid)
    return {
        "users": users, "think_s": think_s, "seconds": round(elapsed, 1), "answers": len(samples["answer"]),
        "answers_per_s": round(len(samples["answer"]) / elapsed, 1), "errors": len(errors),
        "error_samples": sorted(set(errors))[:5], "latency_ms": summary(samples["answer"]),
        "busy": len(samples["busy"]), "busy_reply_ms": summary(samples["busy"]),
        "cpu_share": {name: round(used / elapsed, 2) for name, used in cpu.items()},
        "rss_mb": {"before_warm_up": rss_cold, "warm_s": warm_s, "warm": rss_before, "end": rss_after,
                   "peak": max([rss_before, rss_after, *timeline]), "timeline": timeline,
                   "growth_pct": round(100 * (rss_after - rss_before) / rss_before, 1)},
    }


def _load(pool: ThreadPoolExecutor, clients: list[User], asked: list[Question], seconds: float, think_s: float,
          retry_s: float, pid: int | None = None) -> tuple[dict[str, list[float]], list[str], list[float]]:
    """Every client asks in turn until ``seconds`` have passed; with ``pid``, that process's RSS every 5 s."""
    users = len(clients)
    samples: dict[str, list[float]] = {"answer": [], "busy": []}
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    start_all = threading.Barrier(users)

    def user(n: int) -> None:
        client, turn = clients[n], n
        start_all.wait()
        while time.perf_counter() < deadline:
            text, history = asked[turn % len(asked)]
            turn += users
            start = time.perf_counter()
            try:
                client.ask(text, history)
                outcome = "answer"
            except Exception as exc:  # Refused (busy, too fast, queue full) or a transport failure
                outcome = "busy" if BUSY in str(exc) else "error"
                if outcome == "error":
                    with lock:
                        errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                    continue
            with lock:
                samples[outcome].append(ms_since(start))
            time.sleep(think_s if outcome == "answer" else retry_s)

    timeline: list[float] = []
    next_sample = time.perf_counter() + 5.0
    futures = [pool.submit(user, n) for n in range(users)]
    while not all(f.done() for f in futures):
        if pid is not None and time.perf_counter() >= next_sample:
            timeline.append(rss_mb(pid))
            next_sample += 5.0
        time.sleep(0.2)
    for f in futures:
        f.result()
    return samples, errors, timeline


def served(data_dir: Path, env: dict[str, str], log: Path) -> tuple[Any, str]:
    """A `knee-assistant serve` child on a free loopback port, once it answers."""
    port = free_port()
    process = serve_subprocess(data_dir, port, log, env)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http_ok(url, 180, alive=lambda: process.poll() is None)
    except Exception:
        stop(process)
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"the server did not start:\n{tail}") from None
    return process, url


def report(result: dict[str, Any]) -> str:
    rows: list[list[object]] = []
    for name in ("load", "flood"):
        r = result[name]
        rows.append([name, r["users"], r["seconds"], r["answers"], r["answers_per_s"], r["errors"],
                     r["latency_ms"].get("p50", "-"), r["latency_ms"].get("p95", "-"),
                     f"{r['cpu_share']['server']}/{r['cpu_share']['benchmark']}",
                     r["busy"],
                     r["busy_reply_ms"].get("p95", "-"), r["busy_reply_ms"].get("max", "-"),
                     r["rss_mb"]["warm"], r["rss_mb"]["end"], r["rss_mb"]["growth_pct"]])
    header = ["run", "users", "s", "answers", "per s", "errors", "p50 ms", "p95 ms", "CPU srv/bench",
              "busy", "busy p95 ms",
              "busy max ms", "RSS warm", "RSS end", "growth %"]
    threads = result.get("torch_threads")
    threads = "ui.torch_threads setting" if threads is None else threads or "torch default"
    return (f"torch threads {threads} (load average {result['machine']['load_average_1m']} on "
            f"{result['machine']['cpus']} CPUs)\n" + table(rows, header))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="An existing index (default: ingest corpus/).")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--suite", type=Path, default=CORE_SUITE)
    parser.add_argument("--users", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=0.0,
                        help="Seconds a load user waits after an answer (0: back to back, the worst case).")
    parser.add_argument("--warm-seconds", type=float, default=10.0,
                        help="The same load, unmeasured, before each run (RSS growth is counted from its end).")
    parser.add_argument("--flood-users", type=int, default=40)
    parser.add_argument("--flood-seconds", type=float, default=10.0)
    parser.add_argument("--flood-queue", type=int, default=4, help="ui.queue_size of the flooded server.")
    add_server_threads_option(parser)
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args(argv)
    asked = questions(args.suite)
    result: dict[str, Any] = {"goals": GOALS, "torch_threads": args.torch_threads}
    threads = server_threads_env(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = Path(tmp) / "data"
            build_assistant(load_settings(paths={"data_dir": data_dir})).ingest([args.corpus])
        phases = [("load", args.users, args.seconds, args.think, {}),
                  ("flood", args.flood_users, args.flood_seconds, 0.0, {"KNEE_UI__QUEUE_SIZE": str(args.flood_queue)})]
        for name, users, seconds, think, extra in phases:
            env = {"KNEE_UI__RATE_LIMIT_PER_MINUTE": NO_RATE_LIMIT, "KNEE_UI__RATE_LIMIT_PER_ADDRESS": NO_RATE_LIMIT,
                   **threads, **extra}
            process, url = served(data_dir, env, Path(tmp) / f"{name}.log")
            try:
                result[name] = run(url, process.pid, users, seconds, asked, think, warm_s=args.warm_seconds)
            finally:
                stop(process)
    result["machine"] = machine()
    result["ok"] = {
        "load_errors": result["load"]["errors"] == GOALS["errors"],
        "load_p95": result["load"]["latency_ms"].get("p95", float("inf")) <= GOALS["p95_ms"],
        "load_rss_growth": result["load"]["rss_mb"]["growth_pct"] < GOALS["rss_growth_pct"],
        "flood_busy_seen": result["flood"]["busy"] > 0 and result["flood"]["errors"] == 0,
        "flood_busy_fast": result["flood"]["busy_reply_ms"].get("max", float("inf")) < GOALS["busy_reply_ms"],
    }
    print(report(result))
    print("goals met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in result["ok"].items()))
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
