"""Retrieval quality and answer latency: our pipeline against a naive LangChain + Chroma baseline, in one run.

    .venv/bin/python -m benchmarks.retrieval [--suite evals/suites/retrieval.yaml] [--limit N]

Baseline: RecursiveCharacterTextSplitter(1000, 200) over the same article bodies, Chroma similarity_search(k=4).
Ours: the assistant's hybrid retrieval (the distinct documents of its ranked candidates).
Metrics per system: hit@5, MRR and nDCG@5 over the suite's `expected_sources`; latency p50/p95 of `ask` (warm).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from assistant import Assistant, build_assistant, load_settings
from assistant.ingest.load import discover, load
from assistant.providers.embeddings import LocalEmbeddings

ROOT = Path(__file__).resolve().parent.parent


def load_cases(suite: Path, limit: int | None = None) -> list[dict[str, Any]]:
    cases = [c for c in yaml.safe_load(suite.read_text(encoding="utf-8"))["cases"] if c.get("expected_sources")]
    return cases[:limit] if limit else cases


def scores(ranked: list[str], relevant: list[str], k: int = 5) -> dict[str, float]:
    """hit@k, reciprocal rank and binary nDCG@k of one ranked list of document ids."""
    rel = set(relevant)
    first = next((i for i, d in enumerate(ranked) if d in rel), None)
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in rel)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(rel))))
    return {
        "hit@5": float(first is not None and first < k),
        "mrr": 0.0 if first is None else 1 / (first + 1),
        "ndcg@5": dcg / ideal if ideal else 0.0,
    }


def baseline_ranker(corpus: Path, embeddings: LocalEmbeddings, directory: Path) -> Any:
    from langchain_chroma import Chroma
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    texts, metas = [], []
    for path in discover([corpus]):
        doc = load(path)
        for piece in splitter.split_text(doc.body):
            texts.append(piece)
            metas.append({"doc_id": doc.doc_id})
    store = Chroma.from_texts(texts, embeddings, metadatas=metas, persist_directory=str(directory),
                              collection_name="baseline")

    def rank(question: str) -> list[str]:
        hits = store.similarity_search(question, k=4)
        return list(dict.fromkeys(str(h.metadata["doc_id"]) for h in hits))

    return rank


def ours_ranker(bot: Assistant) -> Any:
    def rank(question: str) -> list[str]:
        return list(dict.fromkeys(c.doc_id for c in bot.ask(question).candidates))

    return rank


def evaluate(rank: Any, cases: list[dict[str, Any]]) -> dict[str, float]:
    rows = [scores(rank(c["question"]), c["expected_sources"]) for c in cases]
    return {key: round(statistics.fmean(r[key] for r in rows), 3) for key in rows[0]}


def latency(bot: Assistant, cases: list[dict[str, Any]]) -> dict[str, float]:
    bot.ask("warm up: what is runner's knee?")
    times = []
    for c in cases:
        start = time.perf_counter()
        bot.ask(c["question"])
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1)}


def run(bot: Assistant, embeddings: LocalEmbeddings, corpus: Path, cases: list[dict[str, Any]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        baseline = evaluate(baseline_ranker(corpus, embeddings, Path(tmp)), cases)
    return {"cases": len(cases), "baseline": baseline, "ours": evaluate(ours_ranker(bot), cases),
            "ours_latency": latency(bot, cases)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", type=Path, default=ROOT / "evals" / "suites" / "retrieval.yaml")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N cases (smoke runs).")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "retrieval.json")
    args = parser.parse_args(argv)
    cases = load_cases(args.suite, args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(paths={"data_dir": Path(tmp), "corpus_dir": args.corpus})
        embeddings = LocalEmbeddings(settings.embeddings)
        bot = build_assistant(settings, embeddings=embeddings)
        bot.ingest([args.corpus])
        result = run(bot, embeddings, args.corpus, cases)
    print(f"{'system':<10} {'hit@5':>7} {'MRR':>7} {'nDCG@5':>7}   ({result['cases']} questions)")
    for name in ("baseline", "ours"):
        r = result[name]
        print(f"{name:<10} {r['hit@5']:>7.3f} {r['mrr']:>7.3f} {r['ndcg@5']:>7.3f}")
    print(f"answer latency (extractive, warm): p50 {result['ours_latency']['p50_ms']} ms, "
          f"p95 {result['ours_latency']['p95_ms']} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
