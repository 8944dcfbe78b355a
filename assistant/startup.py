"""Start-up checks: the commands that serve answers refuse a data folder or index they cannot serve, in one line
naming the folder and the fix, instead of answering every runner "our sources don't cover this"."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings
from assistant.errors import ConfigError, IndexBusy, IndexNotReady

INGEST = "run `knee-assistant ingest` to build it, or point KNEE_DATA_DIR (or --data-dir) at the folder that holds it"


def check_data_dir(settings: Settings) -> None:
    """The data folder, when it exists, is a folder."""
    folder = settings.paths.data_dir
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"the data folder {folder} is a file, not a folder; point KNEE_DATA_DIR (or --data-dir) "
                          "at a folder")


def require_index(settings: Settings) -> None:
    """A local index exists in the data folder (nothing is created when it does not); a Chroma server is asked
    later (``require_documents``)."""
    check_data_dir(settings)
    if settings.store.url:
        return
    folder = settings.paths.data_dir
    if not folder.is_dir():
        raise IndexNotReady(f"the data folder {folder} does not exist, so there is no index; {INGEST}")
    recover_index(settings)
    if not (folder / "chroma" / "chroma.sqlite3").is_file():
        raise IndexNotReady(f"there is no index in {folder}; {INGEST}")


def require_documents(count: int, settings: Settings) -> None:
    """The opened index holds chunks."""
    if count:
        return
    where = f"the Chroma server at {settings.store.url}" if settings.store.url else settings.paths.data_dir
    raise IndexNotReady(f"the index in {where} is empty; {INGEST}")


def recover_index(settings: Settings) -> str | None:
    """Finish what a killed writer left in the data folder (``guard.recover``), unless a writer is at work now."""
    from assistant.ingest.guard import needs_recovery, recover
    from assistant.ingest.pipeline import writer_lock

    live: Path = settings.paths.data_dir / "chroma"
    if settings.store.url or not settings.paths.data_dir.is_dir() or not needs_recovery(live):
        return None  # the usual case: the lock is not even tried
    try:
        with writer_lock(settings.paths.data_dir / "index.lock", wait_s=0.0):
            return recover(live)
    except IndexBusy:
        return None
