"""Per-question store reads stay independent of the corpus size (issue 9): sentences are read by id."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import ChromaStore
from assistant.schema import Chunk, Sentence


def _chunk(chunk_id: str, sentences: int) -> Chunk:
    parts = [Sentence(text=f"Sentence {i}.", start=0, end=0) for i in range(sentences)]
    at = 0
    for s in parts:
        s.start, s.end = at, at + len(s.text)
        at = s.end + 1
    return Chunk(chunk_id=chunk_id, doc_id="doc", title="Doc", section="Part", sentences=parts,
                 text=" ".join(s.text for s in parts))


def test_sentences_of_long_and_short_chunks_are_all_read(tmp_path: Path, embeddings: LocalEmbeddings) -> None:
    store = ChromaStore(tmp_path / "chroma", "perf", embeddings)
    chunks = [_chunk("doc:long:0", 37), _chunk("doc:short:1", 2), _chunk("doc:exact:2", 16)]
    rng = np.random.default_rng(0)
    unit = [rng.normal(size=(len(c.sentences), 384)).astype(np.float32) for c in chunks]
    unit = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in unit]
    store.replace_document("doc", chunks, np.stack([v[0] for v in unit]), unit, {"doc_id": "doc"})
    got = store.sentences(["doc:short:1", "doc:long:0", "doc:exact:2", "doc:missing:3"])
    assert sorted(zip(got.chunk_ids, got.positions, strict=True)) == sorted(
        (c.chunk_id, i) for c in chunks for i in range(len(c.sentences)))
    for cid, pos, start, end, row in zip(got.chunk_ids, got.positions, got.starts, got.ends, got.vectors,
                                         strict=True):
        chunk = next(c for c in chunks if c.chunk_id == cid)
        assert (start, end) == (chunk.sentences[pos].start, chunk.sentences[pos].end)
        assert np.allclose(row, unit[chunks.index(chunk)][pos], atol=1e-6)
    assert store.sentences([]).vectors.shape == (0, 0)


def test_sentences_of_many_chunks_stay_under_sqlite_limits(tmp_path: Path, embeddings: LocalEmbeddings) -> None:
    store = ChromaStore(tmp_path / "chroma", "perf", embeddings)
    chunks = [_chunk(f"doc:many:{n}", 2) for n in range(300)]
    vectors = np.eye(600, 384, dtype=np.float32)
    store.replace_document("doc", chunks, vectors[:300], [vectors[2 * n : 2 * n + 2] for n in range(300)],
                           {"doc_id": "doc"})
    asked = [c.chunk_id for c in chunks] + [f"doc:absent:{n}" for n in range(3000)]
    got = store.sentences(asked)
    assert len(got.chunk_ids) == 600 and got.vectors.shape == (600, 384)


def test_query_asks_for_more_than_the_store_holds(tmp_path: Path, embeddings: LocalEmbeddings) -> None:
    store = ChromaStore(tmp_path / "chroma", "perf", embeddings)
    probe = np.eye(1, 384, dtype=np.float32)[0]
    assert store.query(probe, 20) == []
    chunks = [_chunk(f"doc:few:{n}", 1) for n in range(3)]
    vectors = np.eye(3, 384, dtype=np.float32)
    store.replace_document("doc", chunks, vectors, [vectors[n : n + 1] for n in range(3)], {"doc_id": "doc"})
    hits = store.query(probe, 20)
    assert hits[0].chunk_id == "doc:few:0" and len(hits) == 3
    assert store.query(probe, 20, where={"doc_id": "nobody"}) == []
