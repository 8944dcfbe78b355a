"""A full disk during ingestion never damages what is already indexed.

The data folder lives on a small tmpfs mounted by the test (root only), already holding an index whose two
collections both sit in HNSW segment folders - the files chromadb rewrites in place and that a full disk truncated
(issue 23: every document unreachable, even after the space was freed). A second ingestion then runs while the test
fills the filesystem at one point of its write: before it starts, during the copy the guard takes, and just before
the first upsert into either collection with 0, 4 or 10 MB left (without the guard, 4 MB before the sentences and 10 MB
before the chunks truncated an HNSW data_level0.bin: the index would not open; the other points left 500-2,500
chunks' sentences behind). Each time the ingestion must stop with ``DiskFull`` (or
succeed, when the space sufficed), and once the ballast is gone the old documents must still answer from a freshly
opened index that verifies clean.

The embedding model is the real one for the fixture articles and every question; the bulk notes that push the
collections past chromadb's HNSW threshold (1,000 entries) get vectors from a hash of their text, because embedding
thousands of them with the model would take minutes on a shared machine and this test is about the files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant import build_assistant
from assistant.errors import DiskFull
from assistant.ingest import guard
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import forget_cached_client
from tests.cli_children import run_cli
from tests.conftest import FIXTURE_ARTICLES, make_settings
from tests.hash_embeddings import HashEmbeddings

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")

FS_MB = 64
NOTE = "Club note"
QUESTION = "What helps kneecap pain?"
OLD = {"kneecap-pain", "outer-knee", "plain-note", "old-notes"}


def notes_hashed(real: LocalEmbeddings) -> HashEmbeddings:
    """The real model, except for the bulk club notes, whose vectors come from a hash of their text."""
    return HashEmbeddings(real, hashed=lambda text: NOTE in text)


def _notes(folder: Path, name: str, sections: int) -> Path:
    folder.mkdir(parents=True)
    topics = ["stairs", "hills", "squats", "cycling", "rest", "taping", "shoes", "cadence", "strength", "sleep"]
    (folder / f"{name}.md").write_text(
        f"# {name}\n\n" + "\n\n".join(f"## Part {i}\n\n{NOTE} {i} of {name}: {topics[i % 10]} and "
                                        f"{topics[i // 10 % 10]} matter." for i in range(sections)),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> tuple[Path, Path, Path]:
    """(data folder, articles, new notes): an intact index with HNSW segment folders, and notes to add to it."""
    root = tmp_path_factory.mktemp("disk-full")
    articles = root / "articles"
    shutil.copytree(FIXTURE_ARTICLES, articles)
    old = _notes(root / "old", "old-notes", 1100)
    new = _notes(root / "new", "new-notes", 2500)  # several batches; the HNSW files grow
    settings = make_settings(root / "data", articles)
    bot = build_assistant(settings, embeddings=notes_hashed(embeddings))  # type: ignore[arg-type]
    assert bot.ingest([articles, old]).ok
    bot._store.close()
    forget_cached_client(settings.paths.data_dir / "chroma")
    segments = [p for p in (settings.paths.data_dir / "chroma").iterdir() if (p / "data_level0.bin").exists()]
    assert len(segments) == 2, "both collections must have left SQLite for HNSW folders"
    return settings.paths.data_dir, articles, new


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_MB}m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        forget_cached_client(mount / "data" / "chroma")
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path, keep: int) -> None:
    """Take all free space of the filesystem but ``keep`` bytes."""
    ballast = mount / f"ballast-{len(list(mount.glob('ballast-*')))}"
    free = shutil.disk_usage(mount).free
    if free > keep:
        with ballast.open("wb") as fh:
            os.posix_fallocate(fh.fileno(), 0, free - keep)


def _unfill(mount: Path) -> None:
    for ballast in mount.glob("ballast-*"):
        ballast.unlink()


MB = 1024 * 1024
KEEP = (0, 4 * MB, 10 * MB)
POINTS = [("start", 0), ("copy", 0), *((step, keep) for step in ("sentences", "chunks") for keep in KEEP)]


@pytest.mark.parametrize(("point", "keep"), POINTS, ids=[f"{p}-{k // MB}MB" for p, k in POINTS])
def test_a_full_disk_during_ingest_keeps_the_indexed_documents(
    point: str, keep: int, base: tuple[Path, Path, Path], small_fs: Path, embeddings: LocalEmbeddings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, articles, new = base
    shutil.copytree(data, small_fs / "data")
    settings = make_settings(small_fs / "data", articles)
    model: Any = notes_hashed(embeddings)
    bot = build_assistant(settings, embeddings=model)
    _arm(point, keep, small_fs, monkeypatch)

    try:
        report = bot.ingest([new])
        assert report.ok and report.added == ["new-notes"], "without an error, the write must be whole"
    except DiskFull as exc:
        message = str(exc)
        assert "free some space" in message and "rebuild" not in message, message
        assert "\n" not in message
    finally:
        monkeypatch.undo()
        _unfill(small_fs)

    assert not (small_fs / "data" / "chroma.backup").exists()
    assert bot.ask(QUESTION).citations, "the process that hit the full disk still answers"
    bot._store.close()
    forget_cached_client(settings.paths.data_dir / "chroma")
    fresh = build_assistant(settings, embeddings=model)
    assert fresh.verify_index() == []
    assert {str(d["doc_id"]) for d in fresh.documents()} >= OLD
    answer = fresh.ask(QUESTION)
    assert answer.behavior == "answer" and "kneecap-pain" in {c.doc_id for c in answer.citations}


def _arm(point: str, keep: int, mount: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fill the filesystem (leaving ``keep`` bytes) at ``point`` of the next ingestion."""
    if point == "start":
        _fill(mount, keep)
        return
    if point == "copy":
        real_copy = shutil.copytree

        def copy_on_full_disk(*args: Any, **kwargs: Any) -> Any:
            _fill(mount, keep)
            return real_copy(*args, **kwargs)

        monkeypatch.setattr(guard.shutil, "copytree", copy_on_full_disk)
        return
    from chromadb.api.models.Collection import Collection

    real_upsert = Collection.upsert

    def upsert_on_full_disk(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.name.endswith("_sentences") == (point == "sentences") and not list(mount.glob("ballast-*")):
            _fill(mount, keep)
        return real_upsert(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "upsert", upsert_on_full_disk)


def test_a_full_disk_is_one_line_with_the_right_advice(base: tuple[Path, Path, Path], small_fs: Path,
                                                       tmp_path: Path) -> None:
    data, _, new = base
    shutil.copytree(data, small_fs / "data")
    _fill(small_fs, 64 * 1024)
    result = run_cli(["ingest", str(new), "--data-dir", str(small_fs / "data")], tmp_path / "cli", timeout=300)
    assert result.code == 2, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "not enough free space" in errors[0] and "free some space" in errors[0], errors
    assert "rebuild" not in errors[0] and "Traceback" not in result.stderr


def test_a_copy_left_by_a_killed_write_replaces_a_damaged_index(base: tuple[Path, Path, Path], tmp_path: Path,
                                                                 embeddings: LocalEmbeddings) -> None:
    data, articles, _ = base
    shutil.copytree(data, tmp_path / "data")
    live = tmp_path / "data" / "chroma"
    guard.WriteGuard(live).reserve()  # the copy a write takes first; then the writer is "killed"
    assert guard.backup_dir(live).is_dir()
    level0 = next(live.glob("*/data_level0.bin"))
    with level0.open("r+b") as fh:  # what a write cut short by a full disk leaves
        fh.truncate(level0.stat().st_size // 2)

    bot = build_assistant(make_settings(tmp_path / "data", articles), embeddings=notes_hashed(embeddings))  # type: ignore[arg-type]

    assert not guard.backup_dir(live).exists()
    assert bot.verify_index() == [] and "kneecap-pain" in {c.doc_id for c in bot.ask(QUESTION).citations}
