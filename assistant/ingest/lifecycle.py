"""Index lifecycle: rebuild into a fresh directory, then swap it in atomically."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from assistant.config import Settings
from assistant.ingest.pipeline import IngestPipeline, Progress, writer_lock
from assistant.ingest.readers import ReadLimits
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import ChromaStore, forget_cached_client, generation, generation_file
from assistant.schema import IngestReport

__all__ = ["generation", "generation_file", "index_dir", "rebuild_index", "rebuild_sources", "swap_in"]


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
    """Build a new index from ``paths`` (default: ``rebuild_sources``) beside the old one, then swap directories.

    The old index is never opened (it may be damaged); until the swap, a running app keeps serving it. The writer
    lock is held from the first file to the swap, so an ingestion started meanwhile is refused (``IndexBusy``)
    instead of landing in the index about to be replaced.
    """
    live = index_dir(settings)
    fresh = live.with_name("chroma.rebuild")
    with writer_lock(settings.paths.data_dir / "index.lock"):
        shutil.rmtree(fresh, ignore_errors=True)
        store = ChromaStore(fresh, settings.store.collection, embeddings)
        limits = ReadLimits.from_settings(settings.ingest)
        pipeline = IngestPipeline(embeddings, store, limits, chunking=settings.ingest)
        report = pipeline.run(paths or rebuild_sources(settings), prune=True, progress=progress)
        store.close()
        swap_in(fresh, live)
    return report


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

