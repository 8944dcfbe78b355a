"""Ingest throughput against raw embedding throughput of the same texts, measured in the same run.

    .venv/bin/python -m benchmarks.ingest [--corpus corpus/] [--limit N]

Ingestion embeds each chunk (with its title and section) and each sentence (for the extractive composer), so two
ratios are printed: against the raw embedding of exactly the texts ingestion embeds (the pipeline's overhead), and
against the chunk texts alone (what the sentence vectors cost). Then the unchanged corpus is ingested again.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant import build_assistant, load_settings
from assistant.ingest.frontmatter import strip_markers
from assistant.ingest.load import discover, load
from assistant.ingest.split import split_document
from assistant.providers.embeddings import LocalEmbeddings

ROOT = Path(__file__).resolve().parent.parent


def texts_of(files: list[Path]) -> tuple[list[str], list[str]]:
    """(chunk contexts, sentences) exactly as ingestion embeds them."""
    contexts, sentences = [], []
    for path in files:
        doc = load(path)
        for chunk in split_document(doc):
            contexts.append(f"{doc.title}. {chunk.section}. {strip_markers(chunk.text)}")
            sentences += [strip_markers(s.text) for s in chunk.sentences]
    return contexts, sentences


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(corpus: Path, limit: int | None = None) -> dict[str, Any]:
    files = discover([corpus])[:limit] if limit else discover([corpus])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "corpus"
        work.mkdir()
        for f in files:
            (work / f.name).write_bytes(f.read_bytes())
        settings = load_settings(paths={"data_dir": Path(tmp) / "data", "corpus_dir": work})
        embeddings = LocalEmbeddings(settings.embeddings)
        contexts, sentences = texts_of(discover([work]))
        embeddings.encode(contexts[:8])  # warm-up
        raw_all = timed(lambda: embeddings.encode(contexts + sentences))
        raw_chunks = timed(lambda: embeddings.encode(contexts))
        bot = build_assistant(settings, embeddings=embeddings)
        first = bot.ingest([work])
        again = bot.ingest([work])
    n = len(contexts)
    return {
        "files": len(files), "chunks": n, "sentences": len(sentences),
        "ingest_s": first.seconds, "ingest_chunks_per_s": round(n / first.seconds, 1),
        "raw_all_texts_chunks_per_s": round(n / raw_all, 1), "raw_chunk_texts_chunks_per_s": round(n / raw_chunks, 1),
        "ratio_vs_same_texts": round(raw_all / first.seconds, 2),
        "ratio_vs_chunk_texts": round(raw_chunks / first.seconds, 2),
        "reingest_unchanged_s": again.seconds, "reingest_chunks_written": again.chunks_written,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N files (smoke runs).")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ingest.json")
    args = parser.parse_args(argv)
    r = run(args.corpus, args.limit)
    print(f"{r['files']} files, {r['chunks']} chunks, {r['sentences']} sentences")
    print(f"ingest: {r['ingest_s']:.1f} s = {r['ingest_chunks_per_s']} chunks/s")
    print(f"raw embedding of the same texts: {r['raw_all_texts_chunks_per_s']} chunks/s "
          f"(ratio {r['ratio_vs_same_texts']}); of chunk texts only: {r['raw_chunk_texts_chunks_per_s']} chunks/s "
          f"(ratio {r['ratio_vs_chunk_texts']})")
    print(f"re-ingest unchanged: {r['reingest_unchanged_s']:.2f} s, {r['reingest_chunks_written']} chunks written")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(r, indent=2), encoding="utf-8")
    return r


if __name__ == "__main__":
    main()
