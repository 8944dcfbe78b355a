"""Read files into documents: markdown (optional YAML front matter), plain text, HTML and PDF, within limits."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from assistant.errors import IngestError
from assistant.ingest.frontmatter import ArticleMeta
from assistant.ingest.readers import Extracted, ReadLimits
from assistant.ingest.readers.sandbox import run_parser
from assistant.ingest.readers.text import decode_text

FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".html": "html", ".htm": "html", ".pdf": "pdf"}
SUPPORTED = set(FORMATS)
_LABELS = {"markdown": "markdown", "text": "text", "html": "HTML", "pdf": "PDF"}
MAX_BYTES = ReadLimits().max_bytes
_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster than pure Python


@dataclass
class Document:
    """A loaded file: its body text, metadata and the hash that detects changes."""

    doc_id: str
    path: Path
    title: str
    body: str
    meta: ArticleMeta | None
    content_hash: str
    extra: dict[str, str] = field(default_factory=dict)


def discover(paths: Iterable[Path]) -> list[Path]:
    """Every file under the given paths (sorted, hidden files and README.md skipped)."""
    found: list[Path] = []
    for p in paths:
        if not p.exists():
            raise IngestError(f"no such file or folder: {p}")
        files = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())
        found += [f for f in files if not f.name.startswith(".") and f.name.lower() != "readme.md"]
    return found


def load(path: Path, limits: ReadLimits | None = None) -> Document:
    """Read one file; raise ``IngestError`` with a one-line reason when it cannot be used."""
    limits = limits or ReadLimits()
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise IngestError(f"unsupported file type '{path.suffix or path.name}'")
    raw = _read(path, limits)
    meta: ArticleMeta | None = None
    if fmt in ("html", "pdf"):
        found = _read_rich(fmt, raw, limits)
    else:
        text, _ = decode_text(raw)
        if not text.strip():
            raise IngestError("file is empty")
        meta, body = _split_front_matter(text, path)
        found = Extracted(body=body, extra={"format": fmt})
    if not found.body.strip():
        raise IngestError(f"no text found in this {_LABELS[fmt]} file")
    if len(found.body) > limits.max_chars:
        raise IngestError(f"{len(found.body):,} characters of text, over the {limits.max_chars:,}-character limit")
    title = meta.title if meta else _first_heading(found.body) or found.title or _readable(path.stem)
    return Document(
        doc_id=meta.id if meta else _slug(path.stem),
        path=path,
        title=title,
        body=found.body,
        meta=meta,
        content_hash=hashlib.sha256(raw).hexdigest()[:16],
        extra={**found.extra, "file": path.name},
    )


def _read(path: Path, limits: ReadLimits) -> bytes:
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise IngestError(f"file is {_megabytes(size)}, over the {_megabytes(limits.max_bytes)} limit")
    if size == 0:
        raise IngestError("file is empty")
    return path.read_bytes()


def _read_rich(fmt: str, raw: bytes, limits: ReadLimits) -> Extracted:
    if fmt == "pdf":
        if b"%PDF-" not in raw[:1024]:
            raise IngestError("not a PDF file (no %PDF header); renamed from another format?")
        return run_parser("pdf", raw, limits)
    match = _CHARSET.search(raw[:4096])
    text, _ = decode_text(raw, match.group(1).decode("ascii") if match else None)
    if not text.strip():
        raise IngestError("file is empty")
    return run_parser("html", text.encode("utf-8"), limits)


def _split_front_matter(text: str, path: Path) -> tuple[ArticleMeta | None, str]:
    match = _FRONT.match(text)
    if not match:
        return None, text
    try:
        data = yaml.load(match.group(1), Loader=_YAML) or {}
        meta = ArticleMeta.model_validate(data)
    except yaml.YAMLError as exc:
        raise IngestError(f"front matter is not valid YAML: {str(exc).splitlines()[0]}") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise IngestError(f"front matter field '{loc}': {err['msg']}") from exc
    if meta.id != _slug(path.stem):
        raise IngestError(f"front matter id '{meta.id}' does not match the file name '{path.stem}'")
    return meta, text[match.end() :]


def _first_heading(body: str) -> str | None:
    m = re.search(r"^#\s+(.+)$", body, re.M)
    return m.group(1).strip() if m else None


def _megabytes(size: int) -> str:
    if size >= 2**20:
        return f"{size / 2**20:.3g} MB"
    return f"{size / 1024:.3g} KB" if size >= 1024 else f"{size} B"


def _readable(stem: str) -> str:
    return stem.replace("-", " ").replace("_", " ")


def _slug(stem: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "document"
