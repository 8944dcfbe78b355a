"""Damage checks of a local Chroma index: its files before chromadb opens them, its vectors after.

chromadb aborts the whole process on some damage (text that is not UTF-8 in its SQLite file, a truncated HNSW
header) and silently serves partial results on other damage (a missing vector segment folder), so the store looks
at the files first and, once open, asks a sample of its own vectors to find themselves.
"""

from __future__ import annotations

import sqlite3
import struct
from contextlib import closing
from pathlib import Path
from typing import Any

_HNSW_FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin", "index_metadata.pickle")
# hnswlib's header as chromadb 1.x writes it: format version, then offsetLevel0, max_elements, cur_element_count,
# size_data_per_element, ... (100 bytes).
_HEADER = struct.Struct("<iQQQQQQiIQQQdQ")
_SAMPLE = 8
_SELF_DISTANCE = 1e-3


def file_problems(directory: Path) -> list[str]:
    """Damage visible in the files of a local Chroma directory (empty when none is found or there is no index)."""
    database = directory / "chroma.sqlite3"
    if not database.exists():
        return []
    try:
        # read-write, as chromadb opens it: a hot journal left by a killed writer is rolled back, not damage
        with closing(sqlite3.connect(database, timeout=10)) as con:
            check = [row[0] for row in con.execute("PRAGMA quick_check")]
            if check != ["ok"]:
                detail = " ".join("; ".join(map(str, check)).split())  # SQLite's report spans lines
                return [f"the SQLite file is damaged ({detail[:200]})"]
            _read_all_text(con)
            vector_segments = [row[0] for row in con.execute("SELECT id FROM segments WHERE scope = 'VECTOR'")]
            persisted = {row[0] for row in con.execute("SELECT segment_id FROM max_seq_id")}
    except sqlite3.Error as exc:
        if "locked" in str(exc):  # another process is writing: busy, not damaged; chromadb waits its turn
            return []
        return [f"the SQLite file is damaged ({type(exc).__name__}: {str(exc)[:160]})"]
    problems: list[str] = []
    for segment in vector_segments:
        if segment in persisted:  # the segment's vectors live in its folder, no longer in the SQLite log
            problems += _hnsw_problems(directory / segment)
    return problems


def _read_all_text(con: sqlite3.Connection) -> None:
    """Decode every row: chromadb panics (and takes the process down) on text that is not UTF-8."""
    tables = [row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        if table.startswith(("sqlite_", "embedding_fulltext_search")):
            continue  # SQLite's own and the full-text index, which the assistant never queries
        for _ in con.execute(f'SELECT * FROM "{table}"'):
            pass


def _hnsw_problems(folder: Path) -> list[str]:
    if not folder.is_dir():
        return [f"vector segment folder {folder.name} is missing"]
    missing = [name for name in _HNSW_FILES if not (folder / name).is_file()]
    if missing:
        return [f"vector segment {folder.name} lacks {', '.join(missing)}"]
    header = (folder / "header.bin").read_bytes()
    if len(header) != _HEADER.size:
        return [f"vector segment {folder.name} has a truncated header ({len(header)} of {_HEADER.size} bytes)"]
    version, _, _, count, per_element, *_ = _HEADER.unpack(header)
    if version != 1:
        return []  # another layout; chromadb itself judges it
    for name, needed in (("data_level0.bin", count * per_element), ("length.bin", count * 4)):
        size = (folder / name).stat().st_size
        if size < needed:
            return [f"vector segment {folder.name} has a truncated {name} ({size} of {needed} bytes)"]
    return []


def vector_problems(collection: Any, label: str) -> list[str]:
    """Ask a sample of the collection's stored vectors to find themselves; a miss means a damaged vector index."""
    total = collection.count()
    if not total:
        return []
    offsets = sorted({*range(0, total, max(1, total // _SAMPLE)), total - 1})
    # one row per offset, so the check costs the same at any size (it used to read every id at each start)
    sample = [i for o in offsets for i in collection.get(offset=o, limit=1, include=[])["ids"]]
    try:
        vectors = collection.get(ids=sample, include=["embeddings"])["embeddings"]
        if vectors is None or len(vectors) != len(sample):
            return [f"the {label} vector index lost stored vectors"]
        found = collection.query(query_embeddings=vectors, n_results=1, include=["distances"])["distances"]
    except Exception as exc:  # chromadb's errors for a vector index that lost or mixed up its entries
        return [f"the {label} vector index fails to look up stored vectors ({type(exc).__name__}: {str(exc)[:100]})"]
    lost = sum(1 for d in found if not d or d[0] > _SELF_DISTANCE)
    return [f"the {label} vector index does not find {lost} of {len(sample)} stored vectors"] if lost else []
