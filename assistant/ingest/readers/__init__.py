"""File readers: text decoding in-process; HTML and PDF parsed in a time- and memory-capped child process.

    load.py ──> text.py      bytes -> str (BOMs, UTF-16, UTF-8, Windows-1252/Latin-1), binary files refused
            └─> sandbox.py   runs _worker.py in a child: html_extract.py (lxml) | pdf_extract.py (pypdf)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.config import IngestSettings


@dataclass(frozen=True)
class ReadLimits:
    """Per-file limits; a file over any of them is rejected with a one-line reason."""

    max_bytes: int = 25 * 1024 * 1024
    max_chars: int = 2_000_000  # extracted text; more would take many minutes to embed on a laptop
    timeout_s: float = 30.0  # wall-clock time for parsing one HTML or PDF file
    memory_mb: int = 1024  # address-space cap of the parsing child process

    @classmethod
    def from_settings(cls, cfg: IngestSettings) -> ReadLimits:
        """The limits configured in the ``[ingest]`` settings section."""
        return cls(
            max_bytes=int(cfg.max_mb * 1024 * 1024),
            max_chars=cfg.max_chars,
            timeout_s=cfg.parse_timeout_s,
            memory_mb=cfg.parse_memory_mb,
        )


@dataclass
class Extracted:
    """What a reader found: markdown-ish body, a title hint and format details for the metadata."""

    body: str
    title: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
