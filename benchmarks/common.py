"""Helpers the performance benchmarks share: questions, percentiles, process memory, servers, result files."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from assistant import Assistant
from assistant.evaluation.dataset import load_suite
from assistant.providers.embeddings import LocalEmbeddings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CORE_SUITE = ROOT / "evals" / "suites" / "core.yaml"
Question = tuple[str, list[tuple[str, str]]]


def questions(suite: Path = CORE_SUITE, limit: int | None = None) -> list[Question]:
    """(question, history) of every case of a suite; multi-turn cases keep their earlier turns."""
    cases = load_suite(suite).cases
    found = [(c.final_question, c.history) for c in cases]
    return found[:limit] if limit else found


def add_torch_threads_option(parser: Any) -> None:
    """``--torch-threads N`` for benchmarks that measure in their own process (see ``use_torch_threads``)."""
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads before measuring (default: torch's own, one per core).")


def use_torch_threads(threads: int | None) -> None:
    """Apply ``--torch-threads`` in this process; ``None`` keeps torch's default."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def add_server_threads_option(parser: Any) -> None:
    """``--torch-threads N`` for benchmarks that start ``knee-assistant serve`` (see ``server_threads_env``)."""
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="ui.torch_threads of the server (default: the setting, 1; 0: torch's own).")


def server_threads_env(threads: int | None) -> dict[str, str]:
    """The server's environment for ``--torch-threads``; empty keeps the ``ui.torch_threads`` setting."""
    return {} if threads is None else {"KNEE_UI__TORCH_THREADS": str(threads)}


def ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    """p50 / p95 / max / mean in milliseconds, one decimal."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(statistics.median(values), 1), "p95": round(percentile(values, 95), 1),
            "max": round(max(values), 1), "mean": round(statistics.fmean(values), 1)}


def embed_ms(embeddings: LocalEmbeddings, text: str) -> float:
    """Wall time of embedding one query, the unit every latency figure is also reported in."""
    start = time.perf_counter()
    embeddings.encode([text])
    return ms_since(start)


def timed_asks(bot: Assistant, embeddings: LocalEmbeddings, asked: list[Question]) -> dict[str, Any]:
    """Ask each question (warm) with a raw query embedding right before it, so both see the same machine load.

    Returns the per-stage samples (``answer.timings``), the wall time of each ``ask`` and the raw embedding times.
    """
    bot.ask("warm up: what is runner's knee?")
    embeddings.encode(["warm up"])
    walls: list[float] = []
    raw: list[float] = []
    stages: dict[str, list[float]] = {}
    behaviors: dict[str, int] = {}
    for text, history in asked:
        raw.append(embed_ms(embeddings, text))
        start = time.perf_counter()
        answer = bot.ask(text, history=history)
        walls.append(ms_since(start))
        behaviors[answer.behavior] = behaviors.get(answer.behavior, 0) + 1
        for stage, value in answer.timings.items():
            stages.setdefault(stage, []).append(value)
    return {"walls": walls, "raw": raw, "stages": stages, "behaviors": behaviors}


def latency_report(samples: dict[str, Any]) -> dict[str, Any]:
    """Summaries of ``timed_asks`` samples, with the answer/raw-embedding ratios that survive a noisy machine."""
    answer, raw = summary(samples["walls"]), summary(samples["raw"])
    per_question = [w / r for w, r in zip(samples["walls"], samples["raw"], strict=True) if r > 0]
    return {
        "questions": len(samples["walls"]),
        "answer_ms": answer,
        "raw_embed_ms": raw,
        "ratio_p50": round(answer["p50"] / raw["p50"], 2),
        "ratio_p95": round(answer["p95"] / raw["p50"], 2),
        "ratio_per_question_median": round(statistics.median(per_question), 2),
        "stages_ms": {stage: summary(values) for stage, values in sorted(samples["stages"].items())},
        "behaviors": samples["behaviors"],
    }


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (default: this one) in MiB, from /proc (Linux)."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text(encoding="utf-8")
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return round(kib / 1024, 1)


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid or os.getpid()}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    """What the figures were measured on; the load average says how shared the machine was."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 2)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http_ok(url: str, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> float:
    """Seconds until ``url`` answers 200 (polling every 50 ms); raises TimeoutError."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if not alive():
            raise RuntimeError(f"the server exited before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


def serve_subprocess(
    data_dir: Path, port: int, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`knee-assistant serve` on loopback over an existing index, as a child process (stop it with ``stop``).

    Its output goes to ``log`` (a pipe nobody reads could fill up and stall the server).
    """
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
                "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    cli = Path(sys.executable).with_name("knee-assistant")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "assistant.cli"]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
            env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_result(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")


def table(rows: list[list[object]], header: list[str]) -> str:
    """A plain fixed-width table for the terminal."""
    cells = [list(header)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
