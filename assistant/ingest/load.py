"""Read files into documents: markdown with optional YAML front matter, or plain text."""

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

SUPPORTED = {".md", ".markdown", ".txt"}
MAX_BYTES = 25 * 1024 * 1024
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


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


def load(path: Path) -> Document:
    """Read one file; raise ``IngestError`` with a one-line reason when it cannot be used."""
    if path.suffix.lower() not in SUPPORTED:
        raise IngestError(f"unsupported file type '{path.suffix or path.name}'")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise IngestError(f"file is {size // 1_000_000} MB, over the {MAX_BYTES // 1_000_000} MB limit")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise IngestError("file looks binary (NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise IngestError("file is empty")
    digest = hashlib.sha256(raw).hexdigest()[:16]
    meta, body = _split_front_matter(text, path)
    title = meta.title if meta else _first_heading(body) or path.stem.replace("-", " ").replace("_", " ")
    doc_id = meta.id if meta else _slug(path.stem)
    return Document(doc_id=doc_id, path=path, title=title, body=body, meta=meta, content_hash=digest)


def _split_front_matter(text: str, path: Path) -> tuple[ArticleMeta | None, str]:
    match = _FRONT.match(text)
    if not match:
        return None, text
    try:
        data = yaml.safe_load(match.group(1)) or {}
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


def _slug(stem: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "document"
