"""Back up the whole index to one JSON Lines file and restore it, vectors included, so nothing is re-embedded.

Line 1 is a header (format, version, embedding model, dimension, chromadb version, creation time, counts); every
further line is one chunk: id, text, metadata, vector and its sentences (text, offsets in the chunk, vector).
Vectors are base64 of little-endian float32: the file holds exactly the stored numbers (Chroma re-normalises a cosine
collection's vectors as it stores them, which may move the last bit), and nothing is re-embedded on import.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.config import Settings
from assistant.errors import ConfigError, IndexNotReady, InputError
from assistant.ingest.lifecycle import index_dir, swap_in
from assistant.ingest.pipeline import writer_lock
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import ChromaStore, ChunkRecord, forget_cached_client
from assistant.schema import Sentence

FORMAT = "knee-assistant-index"
VERSION = 1
VECTORS = "base64-float32-le"
BATCH = 500


class Meter(Protocol):
    """A progress bar (tqdm's ``update``/``close``)."""

    def update(self, n: int) -> Any: ...

    def close(self) -> Any: ...


Meters = Callable[[int, str], Meter]  # (total chunks, label) -> a progress bar


class _SentenceLine(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    embedding: str


class _ChunkLine(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    metadata: dict[str, str | int | float | bool]
    embedding: str
    sentences: list[_SentenceLine] = Field(min_length=1)


def export_index(settings: Settings, embeddings: LocalEmbeddings, target: Path,
                 meters: Meters | None = None) -> dict[str, Any]:
    """Write the index to ``target`` (written beside it, then renamed: never half a file); returns the header.

    Holds the writer lock, so no ingestion changes the index while it is read.
    """
    with writer_lock(settings.paths.data_dir / "index.lock"):
        store = ChromaStore(index_dir(settings), settings.store.collection, embeddings, url=settings.store.url,
                            timeout_s=settings.store.timeout_s)
        built = store.built_with()
        counts = {"documents": len(store.documents()), "chunks": store.count(), "sentences": store.sentence_count()}
        header: dict[str, Any] = {
            "format": FORMAT, "version": VERSION,
            "embedding_model": built.get("embedding_model", store.versions["embedding_model"]),
            "dimension": store.dimension, "chromadb": built.get("chromadb", store.versions["chromadb"]),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "vectors": VECTORS,
            "counts": counts,
        }
        partial = target.with_name(target.name + ".part")
        target.parent.mkdir(parents=True, exist_ok=True)
        meter = meters(counts["chunks"], "export") if meters else None
        try:
            with partial.open("w", encoding="utf-8") as out:
                out.write(json.dumps(header) + "\n")
                sentences = 0
                for batch in store.records(BATCH):
                    for record in batch:
                        if not record.sentences:
                            raise IndexNotReady(f"chunk {record.chunk_id} has no stored sentences; {_VERIFY}")
                        sentences += len(record.sentences)
                        out.write(json.dumps(_line(record), ensure_ascii=False) + "\n")
                    if meter:
                        meter.update(len(batch))
            if sentences != counts["sentences"]:
                raise IndexNotReady(f"the index holds {counts['sentences'] - sentences} sentence(s) of no chunk, left "
                                    "by an interrupted write; `knee-assistant ingest` removes them")
            partial.replace(target)
        except OSError as exc:
            raise InputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        finally:
            if meter:
                meter.close()
            partial.unlink(missing_ok=True)
            store.close()
    return header


def import_index(settings: Settings, embeddings: LocalEmbeddings, source: Path, replace: bool = False,
                 meters: Meters | None = None) -> dict[str, Any]:
    """Restore a backup: built in a fresh directory beside the index, checked, then swapped in; returns the header.

    A backup of another embedding model, a malformed line or a short file stops the import before the swap, so
    the current index is untouched. A non-empty index is only replaced with ``replace``.
    """
    if settings.store.url:
        raise ConfigError("index import writes the local index; unset store.url (KNEE_CHROMA_URL) to use it")
    live = index_dir(settings)
    fresh = live.with_name("chroma.import")
    with writer_lock(settings.paths.data_dir / "index.lock"), _lines(source) as lines:
        header = _header(next(lines, (1, ""))[1], source, embeddings)
        if not replace:
            _refuse_if_in_use(settings, embeddings, live)
        shutil.rmtree(fresh, ignore_errors=True)
        store = ChromaStore(fresh, settings.store.collection, embeddings)
        meter = meters(int(header["counts"]["chunks"]), "import") if meters else None
        try:
            chunks, sentences = _restore(store, lines, source, embeddings.dimension, meter)
            expected = header["counts"]
            if (chunks, sentences) != (expected.get("chunks"), expected.get("sentences")):
                raise InputError(f"{source}: has {chunks} chunks and {sentences} sentences, its header says "
                                 f"{expected.get('chunks')} and {expected.get('sentences')} (a cut-off file?)")
            if problems := store.verify():
                raise InputError(f"{source}: the restored index fails verification: {'; '.join(problems)}")
        except BaseException:
            _discard(store, fresh)
            raise
        finally:
            if meter:
                meter.close()
        store.close()
        swap_in(fresh, live)
    return header


_VERIFY = "run `knee-assistant index verify`"


def _line(record: ChunkRecord) -> dict[str, Any]:
    return {
        "id": record.chunk_id, "text": record.text, "metadata": record.metadata, "embedding": _b64(record.vector),
        "sentences": [{"text": s.text, "start": s.start, "end": s.end, "embedding": _b64(v)}
                      for s, v in zip(record.sentences, record.sentence_vectors, strict=True)],
    }


def _b64(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


@contextmanager
def _lines(source: Path) -> Iterator[Iterator[tuple[int, str]]]:
    """Numbered lines of ``source``; unreadable or non-UTF-8 text is an ``InputError`` naming the line."""
    try:
        file = source.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or exc}") from exc

    def numbered() -> Iterator[tuple[int, str]]:
        number = 0
        try:
            for number, line in enumerate(file, start=1):
                yield number, line
        except UnicodeDecodeError:
            raise InputError(f"{source}: line {number + 1}: not UTF-8 text") from None

    with file:
        yield numbered()


def _header(first: str, source: Path, embeddings: LocalEmbeddings) -> dict[str, Any]:
    try:
        header = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InputError(f"{source}: line 1 is not the header of an index backup made by `index export`")
    if header.get("version") != VERSION or header.get("vectors") != VECTORS:
        raise InputError(f"{source}: backup format version {header.get('version')} is not supported "
                         f"(this install reads version {VERSION})")
    model, dimension = header.get("embedding_model"), header.get("dimension")
    if model != embeddings.name or dimension != embeddings.dimension:
        raise InputError(f"{source}: the backup was embedded with {model} ({dimension} dimensions), this install "
                         f"embeds with {embeddings.name} ({embeddings.dimension} dimensions); rebuild the index "
                         "from its files instead (`index rebuild`)")
    counts = header.get("counts")
    if not isinstance(counts, dict) or not all(isinstance(counts.get(k), int) for k in ("chunks", "sentences")):
        raise InputError(f"{source}: line 1 has no chunk and sentence counts")
    return header


def _refuse_if_in_use(settings: Settings, embeddings: LocalEmbeddings, live: Path) -> None:
    if not live.exists():
        return
    try:
        store = ChromaStore(live, settings.store.collection, embeddings)
    except IndexNotReady as exc:
        raise InputError(f"the current index cannot be opened ({exc}); add --replace to replace it") from exc
    try:
        chunks = store.count()
    finally:
        store.close()
        forget_cached_client(live)
    if chunks:
        raise InputError(f"the index in {live} already holds {chunks} chunks; add --replace to replace it "
                         "with the backup")


def _restore(store: ChromaStore, lines: Iterator[tuple[int, str]], source: Path, dimension: int,
             meter: Meter | None) -> tuple[int, int]:
    """Parse, check and write every chunk line in batches; returns (chunks, sentences) written."""
    seen: set[str] = set()
    batch: list[ChunkRecord] = []
    chunks = sentences = 0
    for number, raw in lines:
        if not raw.strip():
            continue
        record = _record(raw, number, source, dimension)
        if record.chunk_id in seen:
            raise InputError(f"{source}: line {number}: chunk {record.chunk_id} appears twice")
        seen.add(record.chunk_id)
        batch.append(record)
        chunks, sentences = chunks + 1, sentences + len(record.sentences)
        if len(batch) >= BATCH:
            store.write_records(batch)
            if meter:
                meter.update(len(batch))
            batch = []
    if batch:
        store.write_records(batch)
        if meter:
            meter.update(len(batch))
    return chunks, sentences


def _record(raw: str, number: int, source: Path, dimension: int) -> ChunkRecord:
    """One chunk line, checked; any problem is an ``InputError`` naming the file and line."""
    where = f"{source}: line {number}"
    try:
        line = _ChunkLine.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise InputError(f"{where}: {loc + ': ' if loc else ''}{err['msg']}") from None
    if not isinstance(line.metadata.get("doc_id"), str):
        raise InputError(f"{where}: metadata has no doc_id")
    sentences = []
    for i, s in enumerate(line.sentences):
        if not s.start <= s.end <= len(line.text) or line.text[s.start : s.end] != s.text:
            raise InputError(f"{where}: sentence {i} does not match the chunk text at {s.start}-{s.end}")
        sentences.append(Sentence(text=s.text, start=s.start, end=s.end))
    return ChunkRecord(
        chunk_id=line.id, text=line.text, metadata=dict(line.metadata),
        vector=_vector(line.embedding, dimension, where),
        sentences=sentences,
        sentence_vectors=np.stack([_vector(s.embedding, dimension, f"{where}: sentence {i}")
                                   for i, s in enumerate(line.sentences)]),
    )


def _vector(text: str, dimension: int, where: str) -> np.ndarray:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{where}: embedding is not base64") from None
    if len(raw) != 4 * dimension:
        raise InputError(f"{where}: embedding is {len(raw)} bytes, not {dimension} float32 values")
    vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.isfinite(vector).all():
        raise InputError(f"{where}: embedding holds a NaN or infinite value")
    return vector


def _discard(store: ChromaStore, fresh: Path) -> None:
    store.close()
    forget_cached_client(fresh)
    shutil.rmtree(fresh, ignore_errors=True)
