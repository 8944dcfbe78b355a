"""Writes that cannot damage what is already indexed.

chromadb rewrites its HNSW segment files in place; a disk that fills up mid-write leaves them truncated and every
indexed document unreachable. So before the first write of a writer-lock section the guard checks the free space
(room for a copy of the index, the batch and a margin) and copies the index beside itself (``chroma.backup``); a
write that fails puts the copy back, one that succeeds drops it. A copy left by a killed writer is judged at the
next open: kept if the index is damaged, dropped otherwise.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from assistant.errors import DiskFull, IndexNotReady
from assistant.providers.store_check import file_problems

log = logging.getLogger(__name__)

MARGIN_BYTES = 8 * 1024 * 1024  # SQLite journal pages and HNSW header rewrites beyond the batch's own rows
# Bytes one stored text (chunk or sentence) costs: its vector in the write-ahead log, the metadata segment and the
# HNSW segment (data_level0.bin with its links), each journaled once - measured about 4 KB on corpus/, doubled.
BYTES_PER_TEXT = 8 * 1024
BYTES_PER_CHAR = 6  # the text itself: log, metadata segment and full-text index, journaled
FreeSpace = Callable[[Path], int]


def free_bytes(path: Path) -> int:
    return int(shutil.disk_usage(path).free)


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def batch_bytes(texts: int, chars: int) -> int:
    """Room a write of ``texts`` texts of ``chars`` characters in all may take, with the margin."""
    return texts * BYTES_PER_TEXT + chars * BYTES_PER_CHAR + MARGIN_BYTES


def backup_dir(live: Path) -> Path:
    return live.with_name(live.name + ".backup")


class WriteGuard:
    """One writer-lock section over the local index in ``live`` (``None``: a Chroma server, nothing to guard).

    ``copy`` False (a fresh index that is swapped in only when complete) skips the copy, not the space check.
    """

    def __init__(self, live: Path | None, copy: bool = True, free: FreeSpace = free_bytes) -> None:
        self.live = live
        self._copy = copy
        self._free = free
        self.copied = False

    def reserve(self, texts: int = 0, chars: int = 0) -> None:
        """Call before every write: ``DiskFull`` unless the write (and the copy, the first time) fits."""
        if self.live is None:
            return
        copy_size = tree_bytes(self.live) if self._copy and not self.copied else 0
        needed = copy_size + batch_bytes(texts, chars)
        free = self._free(self.live.parent)
        if free < needed:
            raise DiskFull(
                f"not enough free space for the index in {self.live.parent} ({_mb(free)} free, this write needs "
                f"about {_mb(needed)}); nothing was written: free some space, then run it again"
            )
        if self._copy and not self.copied:
            self._take_copy()

    def _take_copy(self) -> None:
        assert self.live is not None
        target, part = backup_dir(self.live), self.live.with_name(self.live.name + ".backup.part")
        shutil.rmtree(part, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        try:
            if self.live.is_dir():
                shutil.copytree(self.live, part)
            else:
                part.mkdir()  # no index yet: rolling back means having none again
        except OSError as exc:
            shutil.rmtree(part, ignore_errors=True)
            raise DiskFull(f"cannot copy the index before writing ({exc.strerror or exc}); nothing was written: "
                           "free some space in the data folder, then run it again") from None
        part.rename(target)
        self.copied = True

    def commit(self) -> None:
        """The write succeeded: drop the copy."""
        if self.live is not None and self.copied:
            shutil.rmtree(backup_dir(self.live), ignore_errors=True)
            self.copied = False

    def rollback(self, reason: BaseException) -> AssistantErrorLike:
        """Put the copy back (the store must be closed) and say what happened, as the error to raise."""
        from assistant.ingest.lifecycle import swap_in

        assert self.live is not None and self.copied
        copy = backup_dir(self.live)
        detail = " ".join(f"{type(reason).__name__}: {reason}".split())[:200]
        try:
            swap_in(copy, self.live)
        except OSError as exc:
            return IndexNotReady(f"a write to the index failed ({detail}) and putting back the copy taken before it "
                                 f"failed too ({exc.strerror or exc}); the copy is in {copy}: free some space, then "
                                 f"move it to {self.live}")
        self.copied = False
        log.warning("index write failed (%s); the index was put back as it was before the write", detail)
        free = self._free(self.live.parent)
        if free < MARGIN_BYTES or "full" in detail.lower() or "space" in detail.lower():
            return DiskFull(f"the disk holding {self.live.parent} filled up during the write ({_mb(free)} free now); "
                            "the index was put back as it was before this write: free some space, then run it again")
        return IndexNotReady(f"a write to the index failed ({detail}); the index was put back as it was before "
                             "this write")


AssistantErrorLike = DiskFull | IndexNotReady


def needs_recovery(live: Path) -> bool:
    """Whether a killed writer left something for ``recover`` (a cheap look at names, no lock needed)."""
    left = [backup_dir(live), live.with_name(live.name + ".backup.part")]
    return any(p.exists() for p in left) or (not live.exists() and live.with_name("chroma.old").exists())


def recover(live: Path) -> str | None:
    """Finish what a killed writer left (call under the writer lock); returns what was done, if anything.

    A complete index beside a missing one (killed between the two renames of a swap) is moved in; a copy left by a
    killed guarded write replaces the index only if the index is damaged, else it is dropped.
    """
    shutil.rmtree(live.with_name(live.name + ".backup.part"), ignore_errors=True)
    retired = live.with_name("chroma.old")
    if not live.exists():
        for name in (backup_dir(live).name, "chroma.rebuild", "chroma.import"):
            fresh = live.with_name(name)
            if retired.exists() and fresh.is_dir():
                fresh.rename(live)
                shutil.rmtree(retired, ignore_errors=True)
                return f"moved in the complete index {name} that an interrupted swap left"
        if retired.is_dir():
            retired.rename(live)
            return "moved back the index an interrupted swap had moved aside"
    copy = backup_dir(live)
    if not copy.is_dir():
        return None
    if live.is_dir() and not file_problems(live):
        shutil.rmtree(copy, ignore_errors=True)
        return None
    from assistant.ingest.lifecycle import swap_in

    swap_in(copy, live)
    return "put back the copy taken before an interrupted write (the index was damaged)"


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
