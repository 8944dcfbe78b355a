"""Sync files into the index: add new, replace changed, skip unchanged, report or prune missing."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from assistant.errors import IndexBusy, IngestError
from assistant.ingest.frontmatter import strip_markers
from assistant.ingest.load import Document, discover, load
from assistant.ingest.readers import ReadLimits
from assistant.ingest.scan import scan
from assistant.ingest.split import split_document
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import ChromaStore, sources_json
from assistant.schema import Chunk, IngestReport

Progress = Callable[[Iterable[Path]], Iterable[Path]]
_PAGE = re.compile(r"^Page (\d+)$")


class IngestPipeline:
    """Turns files into indexed chunks; re-running on unchanged files writes nothing."""

    LOCK_WAIT_S = 5.0

    def __init__(
        self,
        embeddings: LocalEmbeddings,
        store: ChromaStore,
        limits: ReadLimits | None = None,
        lock_path: Path | None = None,
    ) -> None:
        self._embeddings = embeddings
        self._store = store
        self._limits = limits or ReadLimits()
        self._lock_path = lock_path

    def run(
        self, paths: list[Path], prune: bool = False, progress: Progress | None = None, allow_flagged: bool = False
    ) -> IngestReport:
        """Sync ``paths`` into the index under the writer lock (a second writer gets ``IndexBusy`` within 5 s)."""
        start = time.perf_counter()
        with self._writer_lock():
            report = self._sync(paths, prune, progress, allow_flagged)
        report.seconds = round(time.perf_counter() - start, 2)
        return report

    def delete(self, doc_id: str) -> int:
        """Remove one document under the writer lock; returns the number of chunks removed."""
        with self._writer_lock():
            return int(self._store.delete_document(doc_id))

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        if self._lock_path is None:
            yield
            return
        from filelock import FileLock, Timeout

        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self._lock_path))
        try:
            lock.acquire(timeout=self.LOCK_WAIT_S)
        except Timeout as exc:
            raise IndexBusy(
                f"another ingestion is writing to the index ({self._lock_path}); try again when it has finished"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    def _sync(
        self, paths: list[Path], prune: bool, progress: Progress | None, allow_flagged: bool
    ) -> IngestReport:
        report = IngestReport()
        files = discover(paths)
        indexed = self._store.documents()
        seen: set[str] = set()
        for path in progress(files) if progress else files:
            try:
                doc = _load(path, self._limits)
                if doc.doc_id in seen:
                    raise IngestError(f"duplicate document id '{doc.doc_id}'")
                seen.add(doc.doc_id)
                before = indexed.get(doc.doc_id)
                # "+q" marks a document stored without its quarantined chunks: --allow-flagged redoes it.
                same = {doc.content_hash} if allow_flagged else {doc.content_hash, f"{doc.content_hash}+q"}
                if before and before["hash"] in same:
                    report.unchanged.append(doc.doc_id)
                    continue
                written = self._index(doc, report, allow_flagged)
                if written:
                    report.chunks_written += written
                    (report.updated if before else report.added).append(doc.doc_id)
            except IngestError as exc:
                report.failed[str(path)] = _one_line(str(exc))
            except (OSError, ValueError) as exc:
                report.failed[str(path)] = _one_line(f"{type(exc).__name__}: {exc}")
        scanned = {str(p.resolve()) for p in paths}
        for doc_id, entry in indexed.items():
            if doc_id in seen or not _under(entry.get("path"), scanned):
                continue
            if prune:
                self._store.delete_document(doc_id)
                report.removed.append(doc_id)
            else:
                report.missing.append(doc_id)
        return report

    def _index(self, doc: Document, report: IngestReport, allow_flagged: bool) -> int:
        chunks = split_document(doc)
        if not chunks:
            raise IngestError("no text to index")
        stored_hash = doc.content_hash
        if not allow_flagged:
            kept = _quarantine(doc.doc_id, chunks, report)
            if not kept:
                self._store.delete_document(doc.doc_id)
                return 0
            stored_hash += "+q" if len(kept) < len(chunks) else ""
            chunks = kept
        _attach_metadata(doc, chunks)
        contexts = [f"{doc.title}. {c.section}. {strip_markers(c.text)}" for c in chunks]
        sentence_texts = [[strip_markers(s.text) for s in c.sentences] for c in chunks]
        flat = [t for group in sentence_texts for t in group]
        # Two calls, not one: a batch is padded to its longest text, and chunks are ~10x longer than sentences.
        chunk_vectors, rest = self._embeddings.encode(contexts), self._embeddings.encode(flat)
        per_chunk: list[np.ndarray] = []
        at = 0
        for group in sentence_texts:
            per_chunk.append(rest[at : at + len(group)])
            at += len(group)
        meta = {
            "doc_id": doc.doc_id,
            "doc_hash": stored_hash,
            "path": str(doc.path.resolve()),
            "title": doc.title,
        }
        self._store.replace_document(doc.doc_id, chunks, chunk_vectors, per_chunk, meta)
        return len(chunks)


def _load(path: Path, limits: ReadLimits) -> Document:
    """``load``, with any unexpected reader failure turned into this file's one-line reason."""
    try:
        return load(path, limits)
    except (IngestError, OSError):
        raise
    except MemoryError:
        raise IngestError("ran out of memory reading the file") from None
    except Exception as exc:  # a reader bug must cost one file, not the batch
        raise IngestError(f"could not read the file: {type(exc).__name__}: {exc}") from None


def _one_line(reason: str) -> str:
    line = " ".join(next((x for x in reason.splitlines() if x.strip()), "unknown error").split())
    return line if len(line) <= 300 else line[:299] + "…"


def _attach_metadata(doc: Document, chunks: list[Chunk]) -> None:
    m = doc.meta
    doc_meta: dict[str, str | int | float | bool] = {
        "kind": "article" if m else "unreviewed-upload",
        "evidence": m.evidence if m else "",
        "reviewed_by": m.reviewed_by if m else "unreviewed",
        "year": m.last_reviewed.year if m else 0,
        "url": m.sources[0].link if m else "",
        "sources": sources_json(
            {s.id: {"short": s.short, "title": s.title, "link": s.link, "kind": s.kind} for s in m.sources}
            if m
            else {}
        ),
        **doc.extra,
    }
    for position, chunk in enumerate(chunks):
        chunk.metadata = {**doc_meta, "position": position}
        page = _PAGE.match(chunk.section) if doc.extra.get("format") == "pdf" else None
        if page:
            chunk.metadata["page"] = int(page.group(1))


def _under(path: object, roots: set[str]) -> bool:
    return isinstance(path, str) and any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _quarantine(doc_id: str, chunks: list[Chunk], report: IngestReport) -> list[Chunk]:
    """Hold back chunks with instruction-like or hidden text; record why in the report."""
    kept: list[Chunk] = []
    for chunk in chunks:
        reasons = scan(chunk.text)
        if reasons:
            report.quarantined.setdefault(doc_id, []).append(f"{chunk.section}: {', '.join(reasons)}")
        else:
            kept.append(chunk)
    return kept
