"""Cold start of `knee-assistant serve` over an existing index, and its memory while serving.

    .venv/bin/python -m benchmarks.coldstart [--data-dir .knee-data] [--runs 3] [--questions 10]

Each run starts the server as a child process and times it until ``/`` answers HTTP 200 (model, index, BM25 and the
Gradio app all loaded), then until its first answer through ``/ask``; after ``--questions`` more answers it reads the
server's resident memory. Before each run a fresh interpreter only imports sentence-transformers, chromadb and gradio:
the ratio of the cold start to that floor survives a busy machine. Without ``--data-dir`` the corpus is ingested into
a temporary index first (not timed).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant import build_assistant, load_settings
from benchmarks.common import (
    CORE_SUITE,
    RESULTS,
    ROOT,
    Question,
    add_server_threads_option,
    free_port,
    machine,
    questions,
    rss_mb,
    serve_subprocess,
    server_threads_env,
    stop,
    table,
    wait_http_ok,
    write_result,
)

GOALS = {"ready_s": 15.0, "rss_mb": 1536.0}
# What any start pays before our code runs: the imports of the model, store and web stacks (timed in the same run,
# so the ratio of the cold start to it survives a busy machine).
IMPORTS = "import sentence_transformers, chromadb, gradio"


def start_once(data_dir: Path, asked: list[Question], log: Path, env: dict[str, str] | None = None,
               timeout_s: float = 180.0) -> dict[str, Any]:
    """One cold start: seconds to HTTP 200 and to the first answer, RSS when ready and after the questions."""
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    process = serve_subprocess(data_dir, port, log, env)
    try:
        try:
            ready_s = wait_http_ok(url, timeout_s, alive=lambda: process.poll() is None)
        except Exception:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"the server did not start:\n{tail}") from None
        rss_ready = rss_mb(process.pid)
        client = Client(url, verbose=False)
        text, history = asked[0]
        client.predict(text, [list(t) for t in history], api_name="/ask")
        first_answer_s = time.perf_counter() - started
        for text, history in asked[1:]:
            client.predict(text, [list(t) for t in history], api_name="/ask")
        return {"ready_s": round(ready_s, 2), "first_answer_s": round(first_answer_s, 2), "rss_ready_mb": rss_ready,
                "rss_serving_mb": rss_mb(process.pid), "questions": len(asked)}
    finally:
        stop(process)


def imports_s() -> float:
    """Seconds a fresh interpreter takes to import the heavy libraries and exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORTS], check=True, capture_output=True)
    return time.perf_counter() - start


def run(data_dir: Path, asked: list[Question], runs: int, work: Path, env: dict[str, str] | None = None,
        baseline: bool = True) -> dict[str, Any]:
    """``runs`` cold starts, each after a bare-imports baseline (``baseline=False``: no baseline, ratio 0)."""
    starts: list[dict[str, Any]] = []
    for n in range(runs):
        bare = imports_s() if baseline else float("inf")
        start = start_once(data_dir, asked, work / f"serve-{n}.log", env)
        starts.append({**start, "imports_s": round(bare, 2) if baseline else None,
                       "ready_to_imports": round(start["ready_s"] / bare, 2)})
    return {
        "runs": starts,
        "ready_s_median": round(statistics.median(s["ready_s"] for s in starts), 2),
        "ready_to_imports_median": round(statistics.median(s["ready_to_imports"] for s in starts), 2),
        "first_answer_s_median": round(statistics.median(s["first_answer_s"] for s in starts), 2),
        "rss_serving_mb_max": max(s["rss_serving_mb"] for s in starts),
        "goals": GOALS,
        "machine": machine(),
    }


def report(result: dict[str, Any]) -> str:
    rows: list[list[object]] = [[n + 1, s["ready_s"], s["first_answer_s"], s["imports_s"], s["ready_to_imports"],
                                 s["rss_ready_mb"], s["rss_serving_mb"]] for n, s in enumerate(result["runs"])]
    header = ["run", "HTTP 200 s", "first answer s", "bare imports s", "ready/imports", "RSS ready MiB",
              "RSS serving MiB"]
    return (f"(load average {result['machine']['load_average_1m']} on {result['machine']['cpus']} CPUs)\n"
            + table(rows, header)
            + f"\nmedian ready {result['ready_s_median']} s (goal {GOALS['ready_s']} s); "
              f"max RSS serving {result['rss_serving_mb_max']} MiB (goal {GOALS['rss_mb']:.0f} MiB)")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="An existing index (default: ingest corpus/).")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--suite", type=Path, default=CORE_SUITE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--questions", type=int, default=10, help="Answers asked before reading the RSS.")
    add_server_threads_option(parser)
    parser.add_argument("--out", type=Path, default=RESULTS / "coldstart.json")
    args = parser.parse_args(argv)
    asked = questions(args.suite, args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = Path(tmp) / "data"
            build_assistant(load_settings(paths={"data_dir": data_dir})).ingest([args.corpus])
        env = server_threads_env(args.torch_threads) or None
        result = run(data_dir, asked, args.runs, Path(tmp), env)
        result["torch_threads"] = args.torch_threads
    print(report(result))
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
