"""Chroma as the vector store: one collection of chunks, one of their sentences (with vectors)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from assistant.errors import BackendUnavailable, IndexNotReady
from assistant.schema import Chunk

_BATCH = 2000


@dataclass
class StoredChunk:
    """A chunk as read back from the index, with its similarity to the query (0 when not queried)."""

    chunk_id: str
    text: str
    metadata: dict[str, Any]
    score: float = 0.0

    @property
    def doc_id(self) -> str:
        return str(self.metadata["doc_id"])


@dataclass
class StoredSentences:
    """Sentences of some chunks: text, position and unit vectors (rows of ``vectors``)."""

    chunk_ids: list[str]
    positions: list[int]
    starts: list[int]
    ends: list[int]
    vectors: np.ndarray


class _ChromaEmbeddingFunction:
    """Hands our local model to Chroma so it never falls back to its downloading default."""

    def __init__(self, embeddings: Any) -> None:
        self._embeddings = embeddings

    def __call__(self, input: Sequence[str]) -> list[np.ndarray]:
        if self._embeddings is None:
            raise IndexNotReady("Chroma was opened without the assistant's embedding model")
        return list(self._embeddings.encode(list(input)))

    @staticmethod
    def name() -> str:
        return "knee-local-minilm"

    def is_legacy(self) -> bool:
        return False

    @staticmethod
    def default_space() -> str:
        return "cosine"

    @staticmethod
    def supported_spaces() -> list[str]:
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> _ChromaEmbeddingFunction:
        # Chroma rebuilds functions from stored config when reading collections; ours needs the live model,
        # which the store passes explicitly, so the rebuilt placeholder refuses to embed.
        return _ChromaEmbeddingFunction(None)

    def embed_query(self, input: Sequence[str]) -> list[np.ndarray]:
        return self(input)


class ChromaStore:
    """Persistent Chroma under the data dir; telemetry off; versions recorded for upgrade checks."""

    def __init__(self, directory: Path, collection: str, embeddings: Any, url: str | None = None) -> None:
        os.environ["ANONYMIZED_TELEMETRY"] = "False"
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.dimension = int(embeddings.dimension)
        self.versions = {"chromadb": chromadb.__version__, "embedding_model": str(embeddings.name)}
        ef: Any = _ChromaEmbeddingFunction(embeddings)
        meta = {"hnsw:space": "cosine", **{f"built_with_{k}": v for k, v in self.versions.items()}}
        try:
            self._client: Any = _client(directory, url, ChromaSettings(anonymized_telemetry=False, allow_reset=False))
            self._chunks: Any = self._client.get_or_create_collection(
                collection, embedding_function=ef, metadata=meta
            )
            self._sentences: Any = self._client.get_or_create_collection(
                f"{collection}_sentences", embedding_function=ef, metadata=meta
            )
            self._chunks.count()
        except Exception as exc:  # chromadb raises many types for a damaged store or a dead server
            if url:
                raise BackendUnavailable(f"the Chroma server at {url} did not answer ({type(exc).__name__})") from exc
            raise IndexNotReady(
                f"the index in {directory} cannot be opened ({type(exc).__name__}: {str(exc)[:120]}); "
                "run `knee-assistant index rebuild`"
            ) from exc

    def close(self) -> None:
        """Release the client (its files stay); needed before the directory is renamed."""
        if hasattr(self._client, "close"):
            self._client.close()

    # -- inspection --------------------------------------------------------------------------------
    def check_versions(self) -> None:
        """Raise ``IndexNotReady`` when the index was built by another chromadb or embedding model."""
        built = self._chunks.metadata or {}
        for key, now in self.versions.items():
            then = built.get(f"built_with_{key}")
            if then and then != now:
                raise IndexNotReady(
                    f"the index was built with {key} {then}, this install has {now}: "
                    "run `knee-assistant index rebuild`"
                )

    def verify(self) -> list[str]:
        """Problems found in the index (empty when it is consistent and matches this install)."""
        problems: list[str] = []
        try:
            self.check_versions()
        except IndexNotReady as exc:
            problems.append(str(exc))
        chunk_ids = set(self._chunks.get(include=[])["ids"])
        sentence_meta = self._sentences.get(include=["metadatas"])["metadatas"] or []
        with_sentences = {str(m["chunk_id"]) for m in sentence_meta}
        if orphans := with_sentences - chunk_ids:
            problems.append(f"{len(orphans)} chunk(s) have sentences but are missing from the index")
        if bare := chunk_ids - with_sentences:
            problems.append(f"{len(bare)} chunk(s) have no stored sentences")
        if chunk_ids:
            sample = self._chunks.get(ids=[next(iter(chunk_ids))], include=["embeddings"])["embeddings"]
            if len(sample[0]) != self.dimension:
                problems.append(f"stored vectors have {len(sample[0])} dimensions, the model gives {self.dimension}")
        hashes: dict[str, set[str]] = {}
        for offset in range(0, len(chunk_ids), _BATCH):
            for meta in self._chunks.get(include=["metadatas"], limit=_BATCH, offset=offset)["metadatas"] or []:
                hashes.setdefault(str(meta["doc_id"]), set()).add(str(meta.get("doc_hash")))
        if mixed := sorted(d for d, h in hashes.items() if len(h) > 1):
            problems.append(f"half-replaced document(s) (an interrupted update): {', '.join(mixed)}")
        return problems

    def count(self) -> int:
        return int(self._chunks.count())

    def documents(self) -> dict[str, dict[str, Any]]:
        """doc_id -> {hash, path, title, chunks} for every indexed document."""
        docs: dict[str, dict[str, Any]] = {}
        total = self.count()
        for offset in range(0, total, _BATCH):
            got = self._chunks.get(include=["metadatas"], limit=_BATCH, offset=offset)
            for meta in got["metadatas"] or []:
                entry = docs.setdefault(
                    str(meta["doc_id"]),
                    {"hash": meta.get("doc_hash"), "path": meta.get("path"), "title": meta.get("title"),
                     "kind": meta.get("kind", ""), "evidence": meta.get("evidence", ""), "chunks": 0},
                )
                entry["chunks"] += 1
        return docs

    # -- writing -------------------------------------------------------------------------------------
    def replace_document(
        self,
        doc_id: str,
        chunks: list[Chunk],
        chunk_vectors: np.ndarray,
        sentence_vectors: list[np.ndarray],
        metadata: dict[str, Any],
    ) -> None:
        """Write the new chunks first, then drop the document's old ones, so a crash never loses it."""
        old = set(self._chunks.get(where={"doc_id": doc_id}, include=[])["ids"])
        new_ids = [c.chunk_id for c in chunks]
        fresh = [i for i, c in enumerate(chunks) if c.chunk_id not in old]
        if fresh:
            self._chunks.upsert(
                ids=[new_ids[i] for i in fresh],
                embeddings=chunk_vectors[fresh],
                documents=[chunks[i].text for i in fresh],
                metadatas=[{**metadata, **chunks[i].metadata, "section": chunks[i].section} for i in fresh],
            )
            self._write_sentences([chunks[i] for i in fresh], [sentence_vectors[i] for i in fresh])
        else:
            # Unchanged chunks: refresh their document-level metadata (hash, path) only.
            self._chunks.update(
                ids=new_ids, metadatas=[{**metadata, **c.metadata, "section": c.section} for c in chunks]
            )
        stale = sorted(old - set(new_ids))
        if stale:
            self._delete_chunks(stale)

    def delete_document(self, doc_id: str) -> int:
        """Remove a document's chunks and sentences; returns how many chunks went."""
        ids = self._chunks.get(where={"doc_id": doc_id}, include=[])["ids"]
        if ids:
            self._delete_chunks(list(ids))
        return len(ids)

    def _write_sentences(self, chunks: list[Chunk], vectors: list[np.ndarray]) -> None:
        ids, docs, metas, rows = [], [], [], []
        for chunk, vecs in zip(chunks, vectors, strict=True):
            for i, s in enumerate(chunk.sentences):
                ids.append(f"{chunk.chunk_id}#{i}")
                docs.append(s.text)
                metas.append(
                    {"chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "i": i, "start": s.start, "end": s.end}
                )
                rows.append(vecs[i])
        for b in range(0, len(ids), _BATCH):
            self._sentences.upsert(
                ids=ids[b : b + _BATCH],
                embeddings=np.asarray(rows[b : b + _BATCH]),
                documents=docs[b : b + _BATCH],
                metadatas=metas[b : b + _BATCH],
            )

    def _delete_chunks(self, ids: list[str]) -> None:
        for b in range(0, len(ids), _BATCH):
            part = ids[b : b + _BATCH]
            self._sentences.delete(where={"chunk_id": {"$in": part}})
            self._chunks.delete(ids=part)

    # -- reading -------------------------------------------------------------------------------------
    def query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[StoredChunk]:
        """The k most similar chunks (cosine similarity in ``score``)."""
        total = self.count()
        if total == 0:
            return []
        res = self._chunks.query(
            query_embeddings=[vector], n_results=min(k, total), where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            StoredChunk(chunk_id=cid, text=doc, metadata=dict(meta), score=1.0 - float(dist))
            for cid, doc, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            )
        ]

    def all_chunks(self) -> list[StoredChunk]:
        """Every chunk, for the lexical index."""
        out: list[StoredChunk] = []
        for offset in range(0, self.count(), _BATCH):
            got = self._chunks.get(include=["documents", "metadatas"], limit=_BATCH, offset=offset)
            out += [
                StoredChunk(chunk_id=cid, text=doc, metadata=dict(meta))
                for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            ]
        return out

    def sentences(self, chunk_ids: list[str]) -> StoredSentences:
        """Stored sentences (with their ingest-time vectors) of the given chunks."""
        got = self._sentences.get(where={"chunk_id": {"$in": chunk_ids}}, include=["metadatas", "embeddings"])
        metas = got["metadatas"] or []
        vectors = np.asarray(got["embeddings"], dtype=np.float32) if len(metas) else np.zeros((0, 0), np.float32)
        return StoredSentences(
            chunk_ids=[str(m["chunk_id"]) for m in metas],
            positions=[int(m["i"]) for m in metas],
            starts=[int(m["start"]) for m in metas],
            ends=[int(m["end"]) for m in metas],
            vectors=vectors,
        )


def _client(directory: Path, url: str | None, settings: Any) -> Any:
    """A persistent client on ``directory``, or an HTTP client when a Chroma server ``url`` is configured."""
    import chromadb

    if not url:
        return chromadb.PersistentClient(path=str(directory), settings=settings)
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    return chromadb.HttpClient(host=parsed.hostname, port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                               ssl=parsed.scheme == "https", settings=settings)


def forget_cached_client(directory: Path) -> None:
    """Drop chromadb's per-process cache entry for ``directory``.

    chromadb shares one system per path inside a process; after an index directory is swapped, a cached system
    would keep reading the files of the directory that was moved away.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(str(directory), None)
    SharedSystemClient._identifier_to_refcount.pop(str(directory), None)
    if system is not None:
        system.stop()


def sources_json(value: Any) -> str:
    """Chroma metadata holds scalars only; structured values travel as JSON."""
    return json.dumps(value, ensure_ascii=False, default=str)
