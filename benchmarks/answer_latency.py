"""Warm extractive answer latency on the real corpus, per stage, against raw query embedding in the same run.

    .venv/bin/python -m benchmarks.answer_latency [--data-dir .knee-data] [--suite evals/suites/core.yaml]
                                                  [--rounds 3] [--profile benchmarks/results/answer_latency.txt]

Every question of the suite (multi-turn cases with their history) is asked ``--rounds`` times after a warm-up; right
before each ``ask`` the bare question is embedded once, so the answer/embedding ratio compares two figures taken
under the same machine load. Without ``--data-dir`` the corpus is ingested into a temporary index first.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from assistant import Assistant, build_assistant, load_settings
from assistant.providers.embeddings import LocalEmbeddings
from benchmarks.common import (
    CORE_SUITE,
    RESULTS,
    ROOT,
    Question,
    add_torch_threads_option,
    latency_report,
    machine,
    questions,
    table,
    timed_asks,
    use_torch_threads,
    write_result,
)

GOALS_MS = {"p50": 100.0, "p95": 250.0}


def run(bot: Assistant, embeddings: LocalEmbeddings, asked: list[Question], rounds: int = 1,
        profile: Path | None = None) -> dict[str, Any]:
    """Latency report of ``rounds`` passes over ``asked``; with ``profile``, a pyinstrument profile of one more pass."""
    result = latency_report(timed_asks(bot, embeddings, asked * rounds))
    result.update(chunks=bot.index_status()["chunks"], rounds=rounds, goals_ms=GOALS_MS, machine=machine(),
                  torch_threads=_torch_threads())
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        with profiler:
            for text, history in asked:
                bot.ask(text, history=history)
        profile.parent.mkdir(parents=True, exist_ok=True)
        profile.write_text(profiler.output_text(unicode=False, color=False), encoding="utf-8")
        result["profile"] = str(profile)
    return result


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def report(result: dict[str, Any]) -> str:
    stages = result["stages_ms"]
    rows: list[list[object]] = [[name, s["p50"], s["p95"]] for name, s in stages.items() if s.get("n")]
    rows.append(["ask (wall)", result["answer_ms"]["p50"], result["answer_ms"]["p95"]])
    rows.append(["raw query embedding", result["raw_embed_ms"]["p50"], result["raw_embed_ms"]["p95"]])
    head = (f"{result['questions']} asks over {result['chunks']} chunks, torch threads {result['torch_threads']} "
            f"(load average {result['machine']['load_average_1m']} on {result['machine']['cpus']} CPUs)")
    tail = (f"answer p50 / embedding p50 = {result['ratio_p50']}, answer p95 / embedding p50 = {result['ratio_p95']}, "
            f"median per-question ratio {result['ratio_per_question_median']}")
    return f"{head}\n{table(rows, ['stage', 'p50 ms', 'p95 ms'])}\n{tail}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="An existing index (default: ingest corpus/).")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--suite", type=Path, default=CORE_SUITE)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions (smoke runs).")
    parser.add_argument("--rounds", type=int, default=3, help="Passes over the questions.")
    parser.add_argument("--profile", type=Path, default=None, help="Write a pyinstrument profile of one pass here.")
    add_torch_threads_option(parser)
    parser.add_argument("--out", type=Path, default=RESULTS / "answer_latency.json")
    args = parser.parse_args(argv)
    asked = questions(args.suite, args.limit)
    use_torch_threads(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(paths={"data_dir": args.data_dir or Path(tmp), "corpus_dir": args.corpus})
        embeddings = LocalEmbeddings(settings.embeddings)
        bot = build_assistant(settings, embeddings=embeddings)
        if args.data_dir is None:
            bot.ingest([args.corpus])
        result = run(bot, embeddings, asked, args.rounds, args.profile)
    print(report(result))
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
