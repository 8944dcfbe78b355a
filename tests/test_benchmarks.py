"""Tiny-scale smoke runs of the benchmark scripts, so they never rot (the figures come from full runs)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant import Assistant
from assistant.providers.embeddings import LocalEmbeddings
from benchmarks import answer_latency, coldstart, ingest, load, retrieval, scale
from benchmarks.common import questions
from tests.conftest import free_port

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


def test_answer_latency_benchmark_smoke(corpus_assistant: Assistant, embeddings: LocalEmbeddings,
                                        tmp_path: Path) -> None:
    result = answer_latency.run(corpus_assistant, embeddings, questions(limit=4), profile=tmp_path / "profile.txt")
    assert result["questions"] == 4 and result["chunks"] > 0
    assert {"embed", "retrieve", "compose", "total"} <= set(result["stages_ms"])
    assert result["answer_ms"]["p50"] > 0 and result["ratio_p50"] > 0
    assert "Assistant.ask" in (tmp_path / "profile.txt").read_text(encoding="utf-8")
    assert "raw query embedding" in answer_latency.report(result)


def test_scale_benchmark_smoke(corpus_assistant: Assistant, embeddings: LocalEmbeddings, tmp_path: Path) -> None:
    size = int(str(corpus_assistant.index_status()["chunks"])) + 50  # the corpus plus some filler
    result = scale.run(corpus_assistant.settings.paths.data_dir, embeddings, [size], questions(limit=3), tmp_path)
    (level,) = result["levels"]
    assert level["chunks"] == size and level["questions"] == 3
    assert level["stages_ms"]["retrieve"]["p50"] > 0 and level["filler_write_s"] > 0
    assert str(size) in scale.report(result)


def test_scale_filler_quotes_its_own_text() -> None:
    import random

    import numpy as np

    texts = [f"Sentence number {i} says something about knees." for i in range(20)]
    seed = scale.Seed(texts=texts, vectors=np.eye(20, 384, dtype=np.float32))
    chunks, vectors, sentence_vectors = scale.filler_chunks(seed, 5000, 12, random.Random(1))
    assert [c.doc_id for c in chunks].count("filler-000500") == 10 and vectors.shape == (12, 384)
    for chunk, rows in zip(chunks, sentence_vectors, strict=True):
        assert [chunk.text[s.start : s.end] for s in chunk.sentences] == [s.text for s in chunk.sentences]
        assert rows.shape == (len(chunk.sentences), 384)
        assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@contextmanager
def _served(bot: Assistant, **ui: Any) -> Iterator[str]:
    """The assistant's app on a free loopback port, with some ``ui`` settings changed while it is built."""
    from assistant.ui.app import create_app, serve

    saved = bot.settings.ui.model_copy()
    for key, value in ui.items():
        setattr(bot.settings.ui, key, value)
    try:
        app = create_app(bot)
    finally:
        bot.settings.ui = saved
    port = free_port()
    serve(app, "127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def test_load_benchmark_smoke(corpus_assistant: Assistant) -> None:
    asked = questions(limit=6)
    with _served(corpus_assistant, rate_limit_per_minute=10_000, rate_limit_per_address=10_000) as url:
        result = load.run(url, os.getpid(), users=3, seconds=6, asked=asked, warm_s=1)
    assert result["errors"] == 0 and result["answers"] > 0 and result["busy"] == 0
    assert result["latency_ms"]["p95"] > 0 and result["rss_mb"]["warm"] > 0 and len(result["rss_mb"]["timeline"]) >= 1
    with _served(corpus_assistant, rate_limit_per_minute=10_000, rate_limit_per_address=10_000,
                 queue_size=1) as url:
        flood = load.run(url, os.getpid(), users=8, seconds=3, asked=asked, warm_s=1)
    assert flood["errors"] == 0 and flood["busy"] > 0 and flood["answers"] > 0, flood["error_samples"]
    assert load.report({"load": result, "flood": flood, "machine": {"load_average_1m": 0, "cpus": 2}})


def test_coldstart_benchmark_smoke(corpus_assistant: Assistant, tmp_path: Path) -> None:
    result = coldstart.run(corpus_assistant.settings.paths.data_dir, questions(limit=2), runs=1, work=tmp_path,
                           baseline=False)
    (start,) = result["runs"]
    assert 0 < start["ready_s"] <= start["first_answer_s"]
    assert start["rss_serving_mb"] > 100
    assert "HTTP 200" in coldstart.report(result)
