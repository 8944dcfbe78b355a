"""Ingest throughput against raw embedding throughput of the same texts, measured in the same run.

    .venv/bin/python -m benchmarks.ingest [--corpus corpus/] [--limit N] [--runs 3]

What is compared: ingestion embeds each chunk (as "title. section. text") and each of its sentences. The raw figure
embeds exactly those texts - split with the pipeline's own token budget - with the same model object and the same
batch size (``embeddings.batch_size``), in one ``encode`` call. The ingest figure is a full first ingest into an empty
index: reading and parsing files, splitting, the injection scan, embedding and the Chroma writes. Their ratio is the
pipeline's efficiency (1.0: ingestion costs no more than the embedding it cannot avoid). A second ratio is against
the chunk texts alone (what the sentence vectors cost), then the unchanged corpus is ingested again.

On a shared machine the load changes during a run, so ``--runs N`` repeats raw-then-ingest N times (a fresh index
each time) and reports the median run, with every run kept in the JSON. Each step is also timed in CPU seconds of
this process (all its threads): other work on the machine stretches wall time far more than CPU time, so the CPU
ratio is the steadier figure there (markdown files are parsed in-process; HTML and PDF children are not counted).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant import build_assistant, load_settings
from assistant.config import Settings
from assistant.ingest.frontmatter import strip_markers
from assistant.ingest.load import discover, load
from assistant.ingest.split import TokenBudget, context, split_document
from assistant.providers.embeddings import LocalEmbeddings
from assistant.schema import IngestReport
from benchmarks.common import machine

ROOT = Path(__file__).resolve().parent.parent


def texts_of(files: list[Path], embeddings: LocalEmbeddings, settings: Settings) -> tuple[list[str], list[str]]:
    """(chunk contexts, sentences) exactly as ingestion embeds them."""
    budget = TokenBudget.for_model(embeddings, settings.ingest.chunk_tokens, settings.ingest.overlap_tokens)
    contexts, sentences = [], []
    for path in files:
        doc = load(path)
        for chunk in split_document(doc, budget):
            contexts.append(context(doc.title, chunk.section, chunk.text))
            sentences += [strip_markers(s.text) for s in chunk.sentences]
    return contexts, sentences


def timed(fn: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def one_run(work: Path, data: Path, embeddings: LocalEmbeddings, contexts: list[str], sentences: list[str],
            again: bool) -> dict[str, Any]:
    """Raw embedding of the texts, then a first ingest into an empty index (and optionally a second one)."""
    settings = load_settings(paths={"data_dir": data, "corpus_dir": work})
    raw_all, raw_all_cpu = timed(lambda: embeddings.encode(contexts + sentences))
    raw_chunks, _ = timed(lambda: embeddings.encode(contexts))
    bot = build_assistant(settings, embeddings=embeddings)
    found: list[IngestReport] = []
    ingest_s, ingest_cpu = timed(lambda: found.append(bot.ingest([work])))  # includes the BM25 refresh after it
    first = found[0]
    if first.chunks_written != len(contexts):  # the comparison is only fair on the same texts
        raise RuntimeError(f"ingest wrote {first.chunks_written} chunks, the raw run embedded {len(contexts)}")
    n = len(contexts)
    result: dict[str, Any] = {
        "ingest_s": round(ingest_s, 2), "raw_all_texts_s": round(raw_all, 2),
        "raw_chunk_texts_s": round(raw_chunks, 2), "ingest_chunks_per_s": round(n / ingest_s, 1),
        "raw_all_texts_chunks_per_s": round(n / raw_all, 1), "raw_chunk_texts_chunks_per_s": round(n / raw_chunks, 1),
        "ratio_vs_same_texts": round(raw_all / ingest_s, 2),
        "ratio_vs_chunk_texts": round(raw_chunks / ingest_s, 2),
        "ingest_cpu_s": round(ingest_cpu, 2), "raw_all_texts_cpu_s": round(raw_all_cpu, 2),
        "cpu_ratio_vs_same_texts": round(raw_all_cpu / ingest_cpu, 2),
    }
    if again:
        second = bot.ingest([work])
        result |= {"reingest_unchanged_s": second.seconds, "reingest_chunks_written": second.chunks_written}
    return result


def run(corpus: Path, limit: int | None = None, runs: int = 1) -> dict[str, Any]:
    files = discover([corpus])[:limit] if limit else discover([corpus])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "corpus"
        work.mkdir()
        for f in files:
            (work / f.name).write_bytes(f.read_bytes())
        settings = load_settings(paths={"data_dir": Path(tmp) / "data", "corpus_dir": work})
        embeddings = LocalEmbeddings(settings.embeddings)
        contexts, sentences = texts_of(discover([work]), embeddings, settings)
        embeddings.encode(contexts[:8])  # warm-up
        each = [one_run(work, Path(tmp) / f"data-{i}", embeddings, contexts, sentences, again=i == runs - 1)
                for i in range(runs)]
    middle = sorted(each, key=lambda r: r["ratio_vs_same_texts"])[(runs - 1) // 2]
    return {
        "files": len(files), "chunks": len(contexts), "sentences": len(sentences),
        "batch_size": settings.embeddings.batch_size, "chunk_tokens": settings.ingest.chunk_tokens,
        **{k: v for k, v in middle.items() if not k.startswith("reingest")},
        "reingest_unchanged_s": each[-1]["reingest_unchanged_s"],
        "reingest_chunks_written": each[-1]["reingest_chunks_written"],
        "runs": each, "median_ratio_vs_same_texts": statistics.median(r["ratio_vs_same_texts"] for r in each),
        "median_cpu_ratio_vs_same_texts": statistics.median(r["cpu_ratio_vs_same_texts"] for r in each),
        # Best of the runs, like timeit: the least disturbed raw embedding against the least disturbed ingest.
        "best_ratio_vs_same_texts": round(min(r["raw_all_texts_s"] for r in each)
                                          / min(r["ingest_s"] for r in each), 2),
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N files (smoke runs).")
    parser.add_argument("--runs", type=int, default=1, help="Repeat raw-then-ingest N times; report the median.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ingest.json")
    args = parser.parse_args(argv)
    r = run(args.corpus, args.limit, max(1, args.runs))
    print(f"{r['files']} files, {r['chunks']} chunks, {r['sentences']} sentences; batch size {r['batch_size']}")
    for i, one in enumerate(r["runs"], start=1):
        print(f"run {i}: ingest {one['ingest_s']:.1f} s, raw {one['raw_all_texts_s']:.1f} s "
              f"-> ratio {one['ratio_vs_same_texts']}; CPU: ingest {one['ingest_cpu_s']:.1f} s, "
              f"raw {one['raw_all_texts_cpu_s']:.1f} s -> ratio {one['cpu_ratio_vs_same_texts']}")
    print(f"median run - ingest: {r['ingest_s']:.1f} s = {r['ingest_chunks_per_s']} chunks/s; "
          f"raw embedding of the same texts: {r['raw_all_texts_chunks_per_s']} chunks/s "
          f"(ratio {r['ratio_vs_same_texts']}); of chunk texts only: {r['raw_chunk_texts_chunks_per_s']} chunks/s "
          f"(ratio {r['ratio_vs_chunk_texts']})")
    print(f"median CPU ratio: {r['median_cpu_ratio_vs_same_texts']}; best-of-runs ratio (fastest raw / fastest "
          f"ingest): {r['best_ratio_vs_same_texts']}")
    print(f"re-ingest unchanged: {r['reingest_unchanged_s']:.2f} s, {r['reingest_chunks_written']} chunks written")
    print(f"machine: {r['machine']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(r, indent=2), encoding="utf-8")
    return r


if __name__ == "__main__":
    main()
