"""Tiny-scale smoke runs of the benchmark scripts, so they never rot (the figures come from full runs)."""

from __future__ import annotations

from pathlib import Path

from assistant import Assistant
from assistant.providers.embeddings import LocalEmbeddings
from benchmarks import ingest, retrieval

ROOT = Path(__file__).resolve().parent.parent


def test_retrieval_benchmark_smoke(corpus_assistant: Assistant, embeddings: LocalEmbeddings) -> None:
    cases = retrieval.load_cases(ROOT / "evals" / "suites" / "retrieval.yaml", limit=3)
    result = retrieval.run(corpus_assistant, embeddings, ROOT / "corpus", cases)
    assert result["cases"] == 3
    for system in ("baseline", "ours"):
        assert set(result[system]) == {"hit@5", "mrr", "ndcg@5"}
        assert 0.0 <= result[system]["mrr"] <= 1.0
    assert result["ours_latency"]["p50_ms"] > 0


def test_ingest_benchmark_smoke() -> None:
    result = ingest.run(ROOT / "corpus", limit=2)
    assert result["files"] == 2 and result["chunks"] > 0
    assert result["reingest_chunks_written"] == 0
    assert result["ratio_vs_same_texts"] > 0


def test_scores_are_computed_correctly() -> None:
    assert retrieval.scores(["a", "b", "c"], ["b"]) == {"hit@5": 1.0, "mrr": 0.5, "ndcg@5": 1 / 1.584962500721156}
    assert retrieval.scores(["a"], ["z"])["hit@5"] == 0.0
