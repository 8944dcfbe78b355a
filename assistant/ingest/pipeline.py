"""Sync files into the index: add new, replace changed, skip unchanged, report or prune missing."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config import IngestSettings
from assistant.errors import IndexBusy, IngestError
from assistant.ingest.frontmatter import strip_markers
from assistant.ingest.guard import WriteGuard, recover
from assistant.ingest.load import Document, discover, load
from assistant.ingest.readers import ReadLimits
from assistant.ingest.scan import scan
from assistant.ingest.split import TokenBudget, context, split_document
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.packed import QUESTION_VECTORS, QUESTIONS, pack
from assistant.providers.store import ChromaStore, DocumentWrite, sources_json
from assistant.schema import Chunk, IngestReport

Progress = Callable[[Iterable[Path]], Iterable[Path]]
_PAGE = re.compile(r"^Page (\d+)$")
# Texts (chunks and sentences) of several documents embedded in one call: the model sorts them by length, so
# batches carry little padding, where one document's few texts made small, ragged batches.
BATCH_TEXTS = 2048


@dataclass
class _Pending:
    """A changed document, split and checked, waiting for its batch to be embedded and written."""

    path: Path
    doc: Document
    chunks: list[Chunk]
    metadata: dict[str, Any]
    existed: bool

    @property
    def texts(self) -> int:
        return len(self.chunks) + sum(len(c.sentences) for c in self.chunks)


@contextmanager
def writer_lock(path: Path | None, wait_s: float = 5.0) -> Iterator[None]:
    """Hold the index's writer lock (``data_dir/index.lock``); ``IndexBusy`` after ``wait_s`` seconds."""
    if path is None:
        yield
        return
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=wait_s)
    except Timeout as exc:
        raise IndexBusy(
            f"another ingestion is writing to the index ({path}); try again when it has finished"
        ) from exc
    try:
        yield
    finally:
        lock.release()


class IngestPipeline:
    """Turns files into indexed chunks; re-running on unchanged files writes nothing."""

    LOCK_WAIT_S = 5.0

    def __init__(
        self,
        embeddings: LocalEmbeddings,
        store: ChromaStore,
        limits: ReadLimits | None = None,
        lock_path: Path | None = None,
        chunking: IngestSettings | None = None,
    ) -> None:
        self._embeddings = embeddings
        self._store = store
        self._limits = limits or ReadLimits()
        self._lock_path = lock_path
        cfg = chunking or IngestSettings()
        self.budget = TokenBudget.for_model(embeddings, cfg.chunk_tokens, cfg.overlap_tokens)
        self._guard = WriteGuard(None)

    def run(
        self, paths: list[Path], prune: bool = False, progress: Progress | None = None, allow_flagged: bool = False
    ) -> IngestReport:
        """Sync ``paths`` into the index under the writer lock (a second writer gets ``IndexBusy`` within 5 s)."""
        start = time.perf_counter()
        with self._writer_lock():
            orphans = self._store.orphan_sentences()  # left behind by an interrupted write
            if orphans:
                self._guard.reserve()
                self._store.delete_sentences(orphans)
            report = self._sync(paths, prune, progress, allow_flagged)
        report.seconds = round(time.perf_counter() - start, 2)
        return report

    def delete(self, doc_id: str) -> int:
        """Remove one document under the writer lock; returns the number of chunks removed."""
        with self._writer_lock():
            self._guard.reserve()
            return int(self._store.delete_document(doc_id))

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """The writer lock, over the index as it is on disk now; other processes hear of the change after.

        Every write in it is guarded (``ingest/guard.py``): checked for free space, and on the live index (one with
        a lock) preceded by a copy that a failed write is rolled back to.
        """
        with writer_lock(self._lock_path, self.LOCK_WAIT_S):
            live = self._store.local_directory
            if live is not None and self._lock_path is not None and recover(live):
                self._store.reopen()
            self._store.reopen_if_changed()  # another process wrote or swapped it since this one opened it
            self._guard = WriteGuard(live, copy=self._lock_path is not None)
            try:
                yield
            except BaseException as exc:
                if not self._guard.copied:
                    raise
                self._store.close()
                error = self._guard.rollback(exc)
                self._store.reopen()
                raise error from exc
            else:
                self._guard.commit()
            finally:
                self._guard = WriteGuard(None)
                self._store.note_own_change()

    def _sync(
        self, paths: list[Path], prune: bool, progress: Progress | None, allow_flagged: bool
    ) -> IngestReport:
        report = IngestReport()
        files = discover(paths)
        indexed = self._store.documents()
        seen: set[str] = set()
        pending: list[_Pending] = []
        for n, path in enumerate(progress(files) if progress else files, start=1):
            try:
                item = self._prepare(path, indexed, seen, report, allow_flagged)
                if item is not None:
                    pending.append(item)
            except IngestError as exc:
                report.failed[str(path)] = _one_line(str(exc))
            except (OSError, ValueError) as exc:
                report.failed[str(path)] = _one_line(f"{type(exc).__name__}: {exc}")
            # The last batch is written before the progress bar counts the last file.
            if pending and (n >= len(files) or sum(p.texts for p in pending) >= BATCH_TEXTS):
                self._write(pending, report)
                pending = []
        if pending:
            self._write(pending, report)
        scanned = {str(p.resolve()) for p in paths}
        for doc_id, entry in indexed.items():
            if doc_id in seen or not _under(entry.get("path"), scanned):
                continue
            if prune:
                self._guard.reserve()
                self._store.delete_document(doc_id)
                report.removed.append(doc_id)
            else:
                report.missing.append(doc_id)
        return report

    def _prepare(
        self, path: Path, indexed: dict[str, dict[str, Any]], seen: set[str], report: IngestReport,
        allow_flagged: bool,
    ) -> _Pending | None:
        """Load, compare and split one file; ``None`` when there is nothing to write."""
        doc = _load(path, self._limits)
        if doc.doc_id in seen:
            raise IngestError(f"duplicate document id '{doc.doc_id}'")
        seen.add(doc.doc_id)
        before = indexed.get(doc.doc_id)
        # "+q" marks a document stored without its quarantined chunks: --allow-flagged redoes it.
        same = {doc.content_hash} if allow_flagged else {doc.content_hash, f"{doc.content_hash}+q"}
        if before and before["hash"] in same:
            report.unchanged.append(doc.doc_id)
            return None
        chunks = split_document(doc, self.budget)
        if not chunks:
            raise IngestError("no text to index")
        stored_hash = doc.content_hash
        if not allow_flagged:
            kept = _quarantine(doc.doc_id, chunks, report)
            if not kept:
                if before:
                    self._guard.reserve()
                    self._store.delete_document(doc.doc_id)
                return None
            stored_hash += "+q" if len(kept) < len(chunks) else ""
            chunks = kept
        _attach_metadata(doc, chunks)
        meta = {"doc_id": doc.doc_id, "doc_hash": stored_hash, "path": str(doc.path.resolve()), "title": doc.title}
        return _Pending(path, doc, chunks, meta, existed=before is not None)

    def _write(self, pending: list[_Pending], report: IngestReport) -> None:
        """Embed the new chunks and sentences of several documents in one call, then store them all."""
        stored = self._store.chunk_ids([p.doc.doc_id for p in pending])
        fresh = [(p, c) for p in pending for c in p.chunks if c.chunk_id not in stored]
        contexts = [context(p.doc.title, c.section, c.text) for p, c in fresh]
        sentences = [strip_markers(s.text) for _, c in fresh for s in c.sentences]
        questions = [q for _, c in fresh for q in c.questions]
        # One call for chunks, sentences and questions: sorted by length inside, long and short texts do not mix.
        vectors = self._embeddings.encode(contexts + sentences + questions)
        found: dict[str, dict[str, Any]] = {p.doc.doc_id: {} for p in pending}
        at = len(contexts)
        asked = len(contexts) + len(sentences)
        for i, (p, c) in enumerate(fresh):
            found[p.doc.doc_id][c.chunk_id] = (vectors[i], vectors[at : at + len(c.sentences)])
            at += len(c.sentences)
            if c.questions:  # the chunk is fresh whenever its questions change: they are part of its id
                c.metadata[QUESTIONS] = json.dumps(c.questions)
                c.metadata[QUESTION_VECTORS] = pack(vectors[asked : asked + len(c.questions)])
                asked += len(c.questions)
        writes = [DocumentWrite(p.doc.doc_id, p.chunks, p.metadata, found[p.doc.doc_id]) for p in pending]
        self._guard.reserve(len(vectors), sum(map(len, contexts + sentences + questions)))
        try:
            self._store.replace_documents(writes)
        except (IngestError, OSError, ValueError) as exc:
            for p in pending:
                report.failed[str(p.path)] = _one_line(f"could not store the document: {exc}")
            return
        for p in pending:
            report.chunks_written += len(p.chunks)
            (report.updated if p.existed else report.added).append(p.doc.doc_id)


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
            {s.id: {"short": s.short, "title": s.title, "link": s.link, "kind": s.kind,
                    "publisher": s.publisher or s.organisation or ""} for s in m.sources}
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
