"""Hybrid retrieval: dense (Chroma), BM25 and question variants, fused by reciprocal rank, documents ranked first,
capped per document."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.config import RetrievalSettings
from assistant.ingest.frontmatter import strip_markers
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.packed import QUESTION_VECTORS, questions_of, unpack
from assistant.providers.store import ChromaStore, StoredChunk
from assistant.schema import FilterValue

RRF_K = 60
PER_DOC_CAP = 2
PER_HEADING_CAP = 2  # chunks under one section heading across documents ("When to see a professional" is in most)
_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be but by can do does for from has have how i if in is it its me my of on or so "
    "that the their them there these they this to was what when where which who why will with you your".split()
)


@dataclass
class Retrieved:
    """Retrieval outcome: the query vector (reused by the composer) and the ranked chunks."""

    query_vector: np.ndarray
    chunks: list[StoredChunk]
    best_similarity: float
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    query: str = ""


def tokenize(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP]


def stems(text: str) -> list[str]:
    """Tokens cut to five letters: a crude stemmer that lets "tendon", "tendons" and "tendinopathy" meet."""
    return [t[:5] for t in tokenize(text)]


class HybridRetriever:
    """Keeps a BM25 index of the store in memory; ``refresh()`` after ingestion."""

    def __init__(self, store: ChromaStore, embeddings: LocalEmbeddings, settings: RetrievalSettings) -> None:
        self._store = store
        self._embeddings = embeddings
        self._settings = settings
        self._lock = threading.Lock()
        self._bm25: Any = None
        self._corpus: list[StoredChunk] = []
        self._asked = _Questions.empty(int(getattr(embeddings, "dimension", 0) or 0))

    def refresh(self) -> None:
        import bm25s

        chunks = self._store.all_chunks()
        index = None
        if chunks:
            texts = [stems(f"{c.metadata.get('title', '')} {c.metadata.get('section', '')} "
                              f"{strip_markers(c.text)} {' '.join(questions_of(c.metadata))}") for c in chunks]
            index = bm25s.BM25()
            index.index(texts, show_progress=False)
        asked = _Questions.of(chunks, self._asked.vectors.shape[1])
        for c in chunks:  # the packed vectors are read once, here; ranked chunks need not carry them
            c.metadata.pop(QUESTION_VECTORS, None)
        with self._lock:
            self._bm25, self._corpus, self._asked = index, chunks, asked

    def embed(self, text: str) -> np.ndarray:
        vector: np.ndarray = self._embeddings.encode([text])[0]
        return vector

    def embed_many(self, texts: list[str]) -> list[np.ndarray]:
        """Vectors of several texts in one call of the model."""
        return list(self._embeddings.encode(texts)) if texts else []

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        vector: np.ndarray | None = None,
        where: dict[str, FilterValue] | None = None,
    ) -> Retrieved:
        """Top-k chunks for ``query``; pass ``vector`` when the query is already embedded.

        ``where`` keeps only chunks whose metadata equals every given value (both searches honour it).
        """
        k = k or self._settings.top_k
        vector = self.embed(query) if vector is None else vector
        dense = self._store.query(vector, self._settings.candidates, where=_chroma_where(where))
        for c in dense:
            c.metadata.pop(QUESTION_VECTORS, None)
        lexical = self._lexical(query, self._settings.candidates, where or {})
        asked = self._by_question(vector, self._settings.question_candidates, where or {})
        fused: dict[str, float] = {}
        scores: dict[str, dict[str, float]] = {}
        by_id: dict[str, StoredChunk] = {}
        shares: dict[str, list[float]] = {}  # doc_id -> every reciprocal-rank share its chunks earned
        rankings = (("dense", 1.0, [(c, c.score) for c in dense]),
                    ("bm25", self._settings.lexical_weight, lexical),
                    ("question", self._settings.question_weight, asked))
        for name, weight, ranking in rankings:
            for rank, (c, score) in enumerate(ranking):
                by_id.setdefault(c.chunk_id, c)
                share = weight / (RRF_K + rank + 1)
                fused[c.chunk_id] = fused.get(c.chunk_id, 0.0) + share
                shares.setdefault(c.doc_id, []).append(share)
                scores.setdefault(c.chunk_id, {})[name] = round(score, 4)
        # The k best chunks (at most PER_DOC_CAP per document) are chosen by their own fused score, then ordered by
        # their document's score, the sum of its best few shares: an article that matches in several places, by
        # meaning and by words, comes before one lucky chunk.
        doc_score = {d: sum(sorted(v, reverse=True)[: 2 * PER_DOC_CAP]) for d, v in shares.items()}
        ranked = sorted(fused, key=lambda cid: -fused[cid])
        chosen: list[StoredChunk] = []
        per_doc: dict[str, int] = {}
        per_heading: dict[str, int] = {}
        for cid in ranked:
            chunk = by_id[cid]
            heading = _heading(chunk)
            if per_doc.get(chunk.doc_id, 0) >= PER_DOC_CAP or per_heading.get(heading, 0) >= PER_HEADING_CAP:
                continue
            per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
            per_heading[heading] = per_heading.get(heading, 0) + 1
            scores[cid]["fused"] = round(fused[cid], 5)
            scores[cid]["doc"] = round(doc_score[chunk.doc_id], 5)
            chosen.append(chunk)
            if len(chosen) == k:
                break
        chosen.sort(key=lambda c: (-doc_score[c.doc_id], -fused[c.chunk_id]))
        best = max((c.score for c in dense), default=0.0)
        return Retrieved(query_vector=vector, chunks=chosen, best_similarity=best, scores=scores, query=query)

    def _by_question(
        self, vector: np.ndarray, k: int, where: dict[str, FilterValue]
    ) -> list[tuple[StoredChunk, float]]:
        """Chunks whose section's questions are nearest in meaning to the query (best variant per chunk)."""
        with self._lock:
            asked = self._asked
        if not len(asked.owners) or self._settings.question_weight == 0:
            return []
        similarity = asked.vectors @ np.asarray(vector, dtype=np.float32)
        best: dict[int, float] = {}
        for owner, sim in zip(asked.owners, similarity.tolist(), strict=True):
            best[owner] = max(best.get(owner, -1.0), sim)
        floor = self._settings.question_min_similarity
        ranked = sorted(((i, sim) for i, sim in best.items() if sim >= floor), key=lambda item: -item[1])
        hits = [(asked.chunks[i], sim) for i, sim in ranked]
        if where:
            hits = [(c, s) for c, s in hits if _meets(c, where)]
        return hits[:k]

    def _lexical(self, query: str, k: int, where: dict[str, FilterValue]) -> list[tuple[StoredChunk, float]]:
        with self._lock:
            index, corpus = self._bm25, self._corpus
        tokens = stems(query)
        if index is None or not tokens:
            return []
        # With a filter, rank the whole corpus so k matching chunks survive the filter.
        docs, scores = index.retrieve([tokens], k=len(corpus) if where else min(k, len(corpus)), show_progress=False)
        hits = [(corpus[int(i)], float(s)) for i, s in zip(docs[0], scores[0], strict=True) if s > 0]
        if where:
            hits = [(c, s) for c, s in hits if _meets(c, where)]
        return hits[:k]


@dataclass
class _Questions:
    """Every stored question vector, with the chunk each points to (``owners`` index ``chunks``)."""

    chunks: list[StoredChunk]
    owners: list[int]
    vectors: np.ndarray

    @classmethod
    def empty(cls, dimension: int) -> _Questions:
        return cls([], [], np.zeros((0, dimension), np.float32))

    @classmethod
    def of(cls, chunks: list[StoredChunk], dimension: int) -> _Questions:
        found = cls.empty(dimension)
        rows: list[np.ndarray] = []
        for c in chunks:
            packed = c.metadata.get(QUESTION_VECTORS)
            vectors = unpack(packed, dimension) if isinstance(packed, str) and dimension else None
            if vectors is None or not len(vectors):
                continue
            found.owners += [len(found.chunks)] * len(vectors)
            found.chunks.append(c)
            rows.append(vectors)
        if rows:
            found.vectors = np.vstack(rows)
        return found


def _meets(chunk: StoredChunk, where: dict[str, FilterValue]) -> bool:
    """Whether the chunk's metadata equals every given value (the in-memory rankings' side of a ``where``)."""
    return all(chunk.metadata.get(key) == value for key, value in where.items())


def _heading(chunk: StoredChunk) -> str:
    """The chunk's own section heading, normalised: articles share boilerplate headings, not their topics."""
    return str(chunk.metadata.get("section", "")).rsplit(">", 1)[-1].strip().lower()


def _chroma_where(where: dict[str, FilterValue] | None) -> dict[str, Any] | None:
    """Chroma's spelling of "every key equals its value"."""
    if not where:
        return None
    clauses = [{key: {"$eq": value}} for key, value in where.items()]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
