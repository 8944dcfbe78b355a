"""Index lifecycle: rebuild into a fresh directory, then swap it in atomically."""

from __future__ import annotations

import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.ingest.guard import recover
from assistant.ingest.pipeline import IngestPipeline, Progress, writer_lock
from assistant.ingest.readers import ReadLimits
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import ChromaStore, forget_cached_client, generation, generation_file
from assistant.schema import IngestReport

__all__ = ["generation", "generation_file", "index_dir", "rebuild_index", "rebuild_sources", "recorded_sources",
           "swap_in"]


def index_dir(settings: Settings) -> Path:
    return settings.paths.data_dir / "chroma"


def rebuild_sources(settings: Settings) -> list[Path]:
    """What a rebuild reads by default: the corpus folder and, when there is one, the staff uploads folder."""
    uploads = settings.paths.uploads_dir
    return [settings.paths.corpus_dir, *([uploads] if uploads.is_dir() else [])]


def rebuild_index(
    settings: Settings,
    embeddings: LocalEmbeddings,
    paths: list[Path] | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Build a new index beside the old one, then swap directories.

    Reads ``paths``, else ``rebuild_sources`` and every other file a document of the old index was built from
    (``recorded_sources``: the path each chunk records, read from the old index's SQLite file, which stays
    readable when its vector files are damaged). Documents of the old index that the new one lacks are listed in
    the report's ``dropped`` with the reason. The old index is never opened by chromadb (it may be damaged); until
    the swap, a running app keeps serving it. The writer lock is held from the first file to the swap, so an
    ingestion started meanwhile is refused (``IndexBusy``) instead of landing in the index about to be replaced.
    """
    if settings.store.url:
        raise ConfigError(f"index rebuild builds the local index, but the index lives on the Chroma server at "
                          f"{settings.store.url}: repair it with `knee-assistant ingest --prune FOLDERS`, or unset "
                          "store.url (KNEE_CHROMA_URL) to rebuild the local index")
    live = index_dir(settings)
    fresh = live.with_name("chroma.rebuild")
    with writer_lock(settings.paths.data_dir / "index.lock"):
        recover(live)
        recorded = recorded_sources(live)
        targets = paths or _with_recorded(rebuild_sources(settings), recorded)
        shutil.rmtree(fresh, ignore_errors=True)
        store = ChromaStore(fresh, settings.store.collection, embeddings)
        try:
            limits = ReadLimits.from_settings(settings.ingest)
            pipeline = IngestPipeline(embeddings, store, limits, chunking=settings.ingest)
            report = pipeline.run(targets, prune=True, progress=progress)
        except BaseException:
            store.close()
            forget_cached_client(fresh)
            shutil.rmtree(fresh, ignore_errors=True)  # the live index is untouched
            raise
        store.close()
        swap_in(fresh, live)
    built = {*report.added, *report.updated, *report.unchanged}
    failed = {str(Path(p).resolve()): why for p, why in report.failed.items()}
    for doc_id, path in sorted(recorded.items()):
        if doc_id not in built:
            report.dropped[doc_id] = (f"{path} failed: {failed[path]}" if path in failed else
                                      f"{path} is gone" if not Path(path).is_file() else f"{path} was not read")
    return report


def recorded_sources(live: Path) -> dict[str, str]:
    """doc_id -> the file each indexed document was built from, read from the index's SQLite file alone."""
    database = live / "chroma.sqlite3"
    if not database.is_file():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)) as con:
            rows = con.execute(
                "SELECT DISTINCT d.string_value, p.string_value FROM embedding_metadata p JOIN embedding_metadata d "
                "ON d.id = p.id AND d.key = 'doc_id' WHERE p.key = 'path'"
            ).fetchall()
    except sqlite3.Error:
        return {}  # a damaged SQLite file: only the default sources can be read
    return {str(doc): str(path) for doc, path in rows if doc and path}


def _with_recorded(roots: list[Path], recorded: dict[str, str]) -> list[Path]:
    """``roots`` plus every recorded file outside them that still exists."""
    resolved = [r.resolve() for r in roots if r.exists()]
    extra = sorted({Path(p) for p in recorded.values()
                    if Path(p).is_file() and not any(Path(p).is_relative_to(r) for r in resolved)})
    return [*roots, *extra]


def swap_in(fresh: Path, live: Path) -> None:
    """Replace the index directory ``live`` by the complete one in ``fresh`` (whose store must be closed)."""
    forget_cached_client(fresh)
    forget_cached_client(live)
    retired = live.with_name("chroma.old")
    shutil.rmtree(retired, ignore_errors=True)
    if live.exists():
        live.rename(retired)
    fresh.rename(live)
    shutil.rmtree(retired, ignore_errors=True)
    generation_file(live).write_text(str(time.time_ns()), encoding="utf-8")

