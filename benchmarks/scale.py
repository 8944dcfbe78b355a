"""Warm extractive answer latency at 1k, 10k and 100k chunks: the real corpus plus synthetic filler.

    .venv/bin/python -m benchmarks.scale [--data-dir .knee-data] [--sizes 1000 10000 100000] [--limit 40]
                                         [--profile benchmarks/results/scale-profile.txt]

Embedding 100k chunks with MiniLM on two cores would take hours, so filler costs no embedding at all: a filler chunk
is 3-5 real corpus sentences drawn at random, each stored with its real ingest-time vector plus a little noise, and
the chunk's vector is their renormalised mean plus noise. Text and vectors therefore agree (BM25 and the dense search
see the corpus's own vocabulary and neighbourhoods, and the composer can quote filler), and filler documents of ten
chunks each compete with the real articles for every question. The real index (``--data-dir``, or the corpus
ingested into a temporary one) is copied, filler is written through ``ChromaStore.replace_document`` up to each size
in turn, and the assistant is rebuilt on the grown store (timing the BM25 refresh) before the questions are asked.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant import build_assistant, load_settings
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import ChromaStore
from assistant.schema import Chunk, Sentence
from benchmarks.common import (
    CORE_SUITE,
    RESULTS,
    ROOT,
    Question,
    add_torch_threads_option,
    latency_report,
    machine,
    questions,
    rss_mb,
    table,
    timed_asks,
    use_torch_threads,
    write_result,
)

CHUNKS_PER_DOC = 10
WRITE_BATCH = 2000
NOISE = 0.01
GOALS_P50_MS = {1000: 100.0, 100_000: 150.0}


@dataclass
class Seed:
    """The real corpus's sentences: text and ingest-time unit vector (one row each)."""

    texts: list[str]
    vectors: np.ndarray


def read_seed(store: ChromaStore) -> Seed:
    chunks = {c.chunk_id: c for c in store.all_chunks() if not c.doc_id.startswith("filler-")}
    stored = store.sentences(list(chunks))
    texts = [chunks[cid].text[s:e] for cid, s, e in zip(stored.chunk_ids, stored.starts, stored.ends, strict=True)]
    return Seed(texts=texts, vectors=stored.vectors)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms: np.ndarray = np.linalg.norm(rows, axis=-1, keepdims=True)
    unit: np.ndarray = (rows / np.maximum(norms, 1e-9)).astype(np.float32)
    return unit


def filler_chunks(seed: Seed, first: int, count: int, rng: random.Random,
                  ) -> tuple[list[Chunk], np.ndarray, list[np.ndarray]]:
    """``count`` synthetic chunks numbered from ``first``, with chunk vectors and per-chunk sentence vectors."""
    noise = np.random.default_rng(rng.randrange(2**32))
    chunks: list[Chunk] = []
    sentence_vectors: list[np.ndarray] = []
    for n in range(first, first + count):
        picks = rng.sample(range(len(seed.texts)), rng.randint(3, 5))
        sentences, at = [], 0
        for i in picks:
            sentences.append(Sentence(text=seed.texts[i], start=at, end=at + len(seed.texts[i])))
            at += len(seed.texts[i]) + 1
        doc = n // CHUNKS_PER_DOC
        doc_id = f"filler-{doc:06d}"
        chunks.append(Chunk(
            chunk_id=f"{doc_id}:part-{n % CHUNKS_PER_DOC}:{n}", doc_id=doc_id, title=f"Filler article {doc}",
            section=f"Part {n % CHUNKS_PER_DOC}", text=" ".join(s.text for s in sentences), sentences=sentences,
            metadata={"doc_id": doc_id, "title": f"Filler article {doc}", "kind": "article", "evidence": "synthetic",
                      "reviewed_by": "benchmark", "year": 2026, "url": "", "sources": "{}", "format": "markdown",
                      "position": n % CHUNKS_PER_DOC, "path": "", "doc_hash": "synthetic"},
        ))
        rows = seed.vectors[picks] + noise.normal(0, NOISE, (len(picks), seed.vectors.shape[1]))
        sentence_vectors.append(_unit(rows))
    chunk_vectors = _unit(np.stack([v.mean(axis=0) for v in sentence_vectors])
                          + noise.normal(0, NOISE, (count, seed.vectors.shape[1])))
    return chunks, chunk_vectors, sentence_vectors


def grow(store: ChromaStore, seed: Seed, target: int, rng: random.Random) -> float:
    """Write filler until the store holds ``target`` chunks; returns the seconds it took."""
    start = time.perf_counter()
    have = store.count()
    while have < target:
        count = min(WRITE_BATCH, target - have)
        chunks, vectors, sentence_vectors = filler_chunks(seed, have, count, rng)
        # One call per batch of filler documents: each chunk's metadata names its own document.
        store.replace_document(f"filler-batch-{have}", chunks, vectors, sentence_vectors, {})
        have += count
    return time.perf_counter() - start


def run(source: Path, embeddings: LocalEmbeddings, sizes: list[int], asked: list[Question], work: Path,
        profile: Path | None = None, seed_value: int = 9) -> dict[str, Any]:
    """Copy the index in ``source`` (a data dir) to ``work`` and measure ``ask`` at each size."""
    target = work / "data"
    if not (target / "chroma").exists():
        shutil.copytree(source / "chroma", target / "chroma")
    settings = load_settings(paths={"data_dir": target})
    store = ChromaStore(target / "chroma", settings.store.collection, embeddings)
    seed = read_seed(store)
    rng = random.Random(seed_value)
    levels: list[dict[str, Any]] = []
    for size in sorted(sizes):
        if size < store.count():
            continue
        write_s = grow(store, seed, size, rng)
        start = time.perf_counter()
        bot = build_assistant(settings, embeddings=embeddings, store=store)
        build_s = time.perf_counter() - start
        level = latency_report(timed_asks(bot, embeddings, asked))
        level.update(chunks=store.count(), filler_write_s=round(write_s, 1), assistant_build_s=round(build_s, 2),
                     rss_mb=rss_mb())
        levels.append(level)
        if profile is not None and size == max(sizes):
            _profile(bot, asked, profile)
        del bot
    store.close()
    import torch

    return {"levels": levels, "seed_sentences": len(seed.texts), "goals_p50_ms": GOALS_P50_MS, "machine": machine(),
            "torch_threads": torch.get_num_threads(),
            "profile": str(profile) if profile else None}


def _profile(bot: Any, asked: list[Question], out: Path) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    with profiler:
        for text, history in asked:
            bot.ask(text, history=history)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profiler.output_text(unicode=False, color=False), encoding="utf-8")


def report(result: dict[str, Any]) -> str:
    rows: list[list[object]] = []
    for level in result["levels"]:
        stages = level["stages_ms"]
        rows.append([level["chunks"], level["answer_ms"]["p50"], level["answer_ms"]["p95"],
                     stages["embed"]["p50"], stages["retrieve"]["p50"], stages["retrieve"]["p95"],
                     stages.get("compose", {}).get("p50", "-"), stages.get("compose", {}).get("p95", "-"),
                     level["raw_embed_ms"]["p50"], level["ratio_p50"], level["assistant_build_s"], level["rss_mb"]])
    header = ["chunks", "ask p50", "ask p95", "embed p50", "retrieve p50", "retrieve p95", "compose p50",
              "compose p95", "raw embed p50", "ratio p50", "build s", "RSS MiB"]
    return (f"{result['levels'][0]['questions'] if result['levels'] else 0} questions per size, ms "
            f"(load average {result['machine']['load_average_1m']} on {result['machine']['cpus']} CPUs)\n"
            + table(rows, header))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="A data dir holding the real index (copied, never changed; default: ingest corpus/).")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--suite", type=Path, default=CORE_SUITE)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions.")
    parser.add_argument("--profile", type=Path, default=None, help="pyinstrument profile at the largest size.")
    add_torch_threads_option(parser)
    parser.add_argument("--keep", type=Path, default=None,
                        help="Keep the grown index in this folder; a later run with it starts from the size it holds.")
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    args = parser.parse_args(argv)
    asked = questions(args.suite, args.limit)
    use_torch_threads(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp:
        embeddings = LocalEmbeddings(load_settings().embeddings)
        source = args.data_dir
        if source is None:
            source = Path(tmp) / "real"
            settings = load_settings(paths={"data_dir": source, "corpus_dir": args.corpus})
            build_assistant(settings, embeddings=embeddings).ingest([args.corpus])
        result = run(source, embeddings, args.sizes, asked, args.keep or Path(tmp), args.profile)
    print(report(result))
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
