"""Chroma as the vector store: one collection of chunks, one of their sentences (with vectors)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import BackendUnavailable, IndexNotReady
from assistant.providers.store_check import file_problems, vector_problems
from assistant.providers.store_remote import RemoteCollection, WriteMarker, http_client
from assistant.schema import Chunk, Sentence

_BATCH = 2000
_SENTENCE_PROBE = 16  # sentence positions read per chunk and call (corpus chunks have at most 9)
_REBUILD = "run `knee-assistant index rebuild`"


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


@dataclass
class DocumentWrite:
    """One document's new version: all its chunks, and vectors for those not yet stored (chunk id -> vector, one
    row per sentence)."""

    doc_id: str
    chunks: list[Chunk]
    metadata: dict[str, Any]
    vectors: dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class ChunkRecord:
    """A stored chunk exactly as the index holds it, vectors included: the unit of a backup."""

    chunk_id: str
    text: str
    metadata: dict[str, Any]
    vector: np.ndarray
    sentences: list[Sentence]
    sentence_vectors: np.ndarray


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

    def __init__(
        self, directory: Path, collection: str, embeddings: Any, url: str | None = None, timeout_s: float = 20.0
    ) -> None:
        os.environ["ANONYMIZED_TELEMETRY"] = "False"
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        if not url:
            directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._timeout_s = timeout_s
        self._opened_with = (collection, embeddings, url)
        self.dimension = int(embeddings.dimension)
        self.versions = {"chromadb": chromadb.__version__, "embedding_model": str(embeddings.name)}
        ef: Any = _ChromaEmbeddingFunction(embeddings)
        meta = {"hnsw:space": "cosine", **{f"built_with_{k}": v for k, v in self.versions.items()}}
        damage = [] if url else file_problems(directory)
        if damage:
            raise IndexNotReady(f"the index in {directory} is damaged ({'; '.join(damage)}); {_REBUILD}")
        try:
            self._client: Any = _client(directory, url, ChromaSettings(anonymized_telemetry=False, allow_reset=False),
                                        timeout_s)
            self._chunks: Any = self._client.get_or_create_collection(
                collection, embedding_function=ef, metadata=meta
            )
            self._sentences: Any = self._client.get_or_create_collection(
                f"{collection}_sentences", embedding_function=ef, metadata=meta
            )
            if url:
                self._chunks = RemoteCollection(self._chunks, url, timeout_s)
                self._sentences = RemoteCollection(self._sentences, url, timeout_s)
            self._marker: WriteMarker | None = WriteMarker(self._client, collection, url, timeout_s) if url else None
            self._chunks.count()
            damage = vector_problems(self._chunks, "chunk") + vector_problems(self._sentences, "sentence")
        except BackendUnavailable:
            raise
        except Exception as exc:  # chromadb raises many types for a damaged store or a dead server
            if url:
                raise BackendUnavailable(f"the Chroma server at {url} did not answer ({type(exc).__name__})") from exc
            raise IndexNotReady(
                f"the index in {directory} cannot be opened ({type(exc).__name__}: {str(exc)[:120]}); {_REBUILD}"
            ) from exc
        if damage:
            raise IndexNotReady(f"the index in {directory} is damaged ({'; '.join(damage)}); {_REBUILD}")
        self._generation = self._marker.read() if self._marker is not None else generation(directory)

    @property
    def local_directory(self) -> Path | None:
        """The index directory, or ``None`` when a Chroma server holds the index."""
        return None if self._opened_with[2] else self.directory

    def reopen_if_changed(self) -> bool:
        """Reopen when another process wrote or swapped the index since this store opened it (call under the
        writer lock, so this process never writes through a stale view); True when it did."""
        if self._opened_with[2] or generation(self.directory) == self._generation:
            return False
        # A fresh chromadb system for the directory; the old one is not stopped, answers in flight finish on it.
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(str(self.directory), None)
        SharedSystemClient._identifier_to_refcount.pop(str(self.directory), None)
        collection, embeddings, url = self._opened_with
        self.__dict__.update(ChromaStore(self.directory, collection, embeddings, url, self._timeout_s).__dict__)
        return True

    def note_own_change(self) -> None:
        """Tell other processes (their next answer or write reopens the index); this store stays current."""
        if self._marker is not None:
            self._generation = self._marker.bump()
        else:
            self._generation = bump_generation(self.directory)

    def written_elsewhere(self) -> bool:
        """Server mode: True once after another process wrote to the server's index since this store last looked."""
        if self._marker is None:
            return False
        current = self._marker.read()
        if current == self._generation:
            return False
        self._generation = current
        return True

    def reopen(self) -> None:
        """Open the directory afresh, after another process swapped a rebuilt or imported index into it."""
        collection, embeddings, url = self._opened_with
        self.close()
        if not url:
            forget_cached_client(self.directory)
        fresh = ChromaStore(self.directory, collection, embeddings, url, self._timeout_s)
        self.__dict__.update(fresh.__dict__)  # every holder of this object now reads the new index

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
                # A server's index cannot be rebuilt beside the live one: a fresh collection is the way back.
                fix = ("set a new store.collection (or empty this one on the server), then run `knee-assistant ingest`"
                       if self._marker is not None else _REBUILD)
                raise IndexNotReady(f"the index was built with {key} {then}, this install has {now}: {fix}")

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
                if entry["hash"] != meta.get("doc_hash"):
                    entry["hash"] = None  # half-replaced (an interrupted update): the next ingestion redoes it
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
        """Write the new version before removing the old one, so a crash never loses a document.

        Order: sentences of new chunks, new chunks, metadata of kept chunks, old chunks, then sentences of no
        current chunk. A chunk is stored only after its sentences; until the metadata step the document's chunks
        disagree on ``doc_hash``, which makes the next ingestion redo it (``documents``); leftover sentences of an
        interrupted write go with ``sweep``.
        """
        old = set(self._chunks.get(where={"doc_id": doc_id}, include=[])["ids"])
        new_ids = [c.chunk_id for c in chunks]
        metas = [{**metadata, **c.metadata, "section": c.section} for c in chunks]
        fresh = [i for i, c in enumerate(chunks) if c.chunk_id not in old]
        if fresh:
            self._write_sentences([chunks[i] for i in fresh], [sentence_vectors[i] for i in fresh])
            self._chunks.upsert(
                ids=[new_ids[i] for i in fresh],
                embeddings=chunk_vectors[fresh],
                documents=[chunks[i].text for i in fresh],
                metadatas=[metas[i] for i in fresh],
            )
        kept = [i for i, c in enumerate(chunks) if c.chunk_id in old]
        if kept:  # unchanged chunks of a changed document take its new hash, path and position
            self._chunks.update(ids=[new_ids[i] for i in kept], metadatas=[metas[i] for i in kept])
        stale = sorted(old - set(new_ids))
        if stale:
            self._delete_chunks(stale)

    def chunk_ids(self, doc_ids: list[str]) -> set[str]:
        """Ids of the stored chunks of these documents."""
        out: set[str] = set()
        for b in range(0, len(doc_ids), _BATCH):
            out.update(self._chunks.get(where={"doc_id": {"$in": doc_ids[b : b + _BATCH]}}, include=[])["ids"])
        return out

    def replace_documents(self, writes: list[DocumentWrite]) -> None:
        """``replace_document`` for many documents with a few large Chroma calls, in the same crash-safe order:
        sentences of new chunks, new chunks, metadata of kept chunks, then old chunks."""
        old = self.chunk_ids([w.doc_id for w in writes])
        fresh = [(w, c) for w in writes for c in w.chunks if c.chunk_id not in old]
        kept = [(w, c) for w in writes for c in w.chunks if c.chunk_id in old]
        self._write_sentences([c for _, c in fresh], [w.vectors[c.chunk_id][1] for w, c in fresh])
        for b in range(0, len(fresh), _BATCH):
            part = fresh[b : b + _BATCH]
            self._chunks.upsert(
                ids=[c.chunk_id for _, c in part],
                embeddings=np.asarray([w.vectors[c.chunk_id][0] for w, c in part]),
                documents=[c.text for _, c in part],
                metadatas=[{**w.metadata, **c.metadata, "section": c.section} for w, c in part],
            )
        for b in range(0, len(kept), _BATCH):  # unchanged chunks of a changed document take its new metadata
            part = kept[b : b + _BATCH]
            self._chunks.update(
                ids=[c.chunk_id for _, c in part],
                metadatas=[{**w.metadata, **c.metadata, "section": c.section} for w, c in part],
            )
        stale = sorted(old - {c.chunk_id for w in writes for c in w.chunks})
        if stale:
            self._delete_chunks(stale)

    def built_with(self) -> dict[str, str]:
        """The chromadb and embedding model versions recorded when the index was created."""
        built = self._chunks.metadata or {}
        return {k.removeprefix("built_with_"): str(v) for k, v in built.items() if k.startswith("built_with_")}

    def sentence_count(self) -> int:
        return int(self._sentences.count())

    def records(self, batch: int = 500) -> Iterator[list[ChunkRecord]]:
        """Every chunk with its vector and its sentences (offsets and vectors), ``batch`` chunks at a time."""
        for offset in range(0, self.count(), batch):
            got = self._chunks.get(include=["documents", "metadatas", "embeddings"], limit=batch, offset=offset)
            ids = [str(i) for i in got["ids"]]
            sent = self._sentences.get(where={"chunk_id": {"$in": ids}},
                                       include=["documents", "metadatas", "embeddings"])
            rows: dict[str, list[tuple[int, Sentence, np.ndarray]]] = {i: [] for i in ids}
            for text, meta, vec in zip(sent["documents"], sent["metadatas"], sent["embeddings"], strict=True):
                s = Sentence(text=text, start=int(meta["start"]), end=int(meta["end"]))
                rows[str(meta["chunk_id"])].append((int(meta["i"]), s, vec))
            out: list[ChunkRecord] = []
            for cid, text, meta, vec in zip(ids, got["documents"], got["metadatas"], got["embeddings"], strict=True):
                mine = sorted(rows[cid], key=lambda r: r[0])
                vectors = np.asarray([r[2] for r in mine], dtype=np.float32).reshape(len(mine), self.dimension)
                out.append(ChunkRecord(cid, text, dict(meta), np.asarray(vec, dtype=np.float32),
                                       [r[1] for r in mine], vectors))
            yield out

    def write_records(self, records: list[ChunkRecord]) -> None:
        """Store chunks as they were backed up (no embedding): sentences first, then their chunks."""
        ids, docs, metas, rows = [], [], [], []
        for r in records:
            for i, s in enumerate(r.sentences):
                ids.append(f"{r.chunk_id}#{i}")
                docs.append(s.text)
                metas.append({"chunk_id": r.chunk_id, "doc_id": r.metadata["doc_id"], "i": i,
                              "start": s.start, "end": s.end})
                rows.append(r.sentence_vectors[i])
        for b in range(0, len(ids), _BATCH):
            self._sentences.upsert(ids=ids[b : b + _BATCH], embeddings=np.asarray(rows[b : b + _BATCH]),
                                   documents=docs[b : b + _BATCH], metadatas=metas[b : b + _BATCH])
        for b in range(0, len(records), _BATCH):
            part = records[b : b + _BATCH]
            self._chunks.upsert(ids=[r.chunk_id for r in part], embeddings=np.asarray([r.vector for r in part]),
                                documents=[r.text for r in part], metadatas=[r.metadata for r in part])

    def delete_document(self, doc_id: str) -> int:
        """Remove a document's chunks and sentences; returns how many chunks went."""
        ids = self._chunks.get(where={"doc_id": doc_id}, include=[])["ids"]
        if ids:
            self._delete_chunks(list(ids))
        return len(ids)

    def sweep(self) -> int:
        """Delete sentences whose chunk is not stored (left by an interrupted write); returns how many."""
        orphans = self.orphan_sentences()
        self.delete_sentences(orphans)
        return len(orphans)

    def orphan_sentences(self) -> list[str]:
        """Ids of sentences whose chunk is not stored."""
        chunk_ids = set(self._chunks.get(include=[])["ids"])
        metas = self._sentences.get(include=["metadatas"])
        return [sid for sid, m in zip(metas["ids"], metas["metadatas"] or [], strict=True)
                if str(m["chunk_id"]) not in chunk_ids]

    def delete_sentences(self, ids: list[str]) -> None:
        for b in range(0, len(ids), _BATCH):
            self._sentences.delete(ids=ids[b : b + _BATCH])

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
            # chunks first: a crash in between leaves only unreachable sentences, which ``sweep`` removes
            self._chunks.delete(ids=part)
            self._sentences.delete(where={"chunk_id": {"$in": part}})

    # -- reading -------------------------------------------------------------------------------------
    def query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[StoredChunk]:
        """The k most similar chunks (cosine similarity in ``score``).

        No ``count()`` first: chromadb 1.x returns what there is when ``k`` exceeds it, and counting costs about
        28 ms a question at 100k chunks (SQLite counts every row).
        """
        res = self._chunks.query(
            query_embeddings=[vector], n_results=k, where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            StoredChunk(chunk_id=cid, text=doc, metadata=dict(meta), score=1.0 - float(dist))
            for cid, doc, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            )
            if meta is not None and doc is not None  # removed by another process since this one last reopened
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
        """Stored sentences (with their ingest-time vectors) of the given chunks.

        Read by id (``<chunk_id>#<i>``, ``_SENTENCE_PROBE`` positions per call) rather than with a ``chunk_id``
        filter, whose cost grows with the whole sentence collection (about 19 ms at 10k chunks against 5 ms by id).
        """
        metas: list[Any] = []
        rows: list[Any] = []
        unique = list(dict.fromkeys(chunk_ids))
        per_call = _BATCH // _SENTENCE_PROBE  # SQLite caps the variables of one statement
        for b in range(0, len(unique), per_call):
            pending, first = unique[b : b + per_call], 0
            while pending:
                ids = [f"{cid}#{i}" for cid in pending for i in range(first, first + _SENTENCE_PROBE)]
                got = self._sentences.get(ids=ids, include=["metadatas", "embeddings"])
                found = got["metadatas"] or []
                metas += found
                rows += list(got["embeddings"]) if len(found) else []
                first += _SENTENCE_PROBE
                longer = {str(m["chunk_id"]) for m in found if int(m["i"]) == first - 1}
                pending = [cid for cid in pending if cid in longer]  # every probed position filled: look further
        vectors = np.asarray(rows, dtype=np.float32) if metas else np.zeros((0, 0), np.float32)
        return StoredSentences(
            chunk_ids=[str(m["chunk_id"]) for m in metas],
            positions=[int(m["i"]) for m in metas],
            starts=[int(m["start"]) for m in metas],
            ends=[int(m["end"]) for m in metas],
            vectors=vectors,
        )


def _client(directory: Path, url: str | None, settings: Any, timeout_s: float) -> Any:
    """A persistent client on ``directory``, or an HTTP client (time-limited) when a Chroma server ``url`` is
    configured."""
    import chromadb

    if not url:
        return chromadb.PersistentClient(path=str(directory), settings=settings)

    return http_client(url, timeout_s, settings)


def generation_file(directory: Path) -> Path:
    """Rewritten after every change to the index (ingest, delete, swap); processes that see it change reopen."""
    return directory.with_name("index-generation")


def generation(directory: Path) -> str:
    """The current index generation ("" before the first change)."""
    try:
        return generation_file(directory).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def bump_generation(directory: Path) -> str:
    value = str(time.time_ns())
    generation_file(directory).write_text(value, encoding="utf-8")
    return value


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
