"""Heading-aware chunking with stable ids and sentence offsets, bounded for the embedding model."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from assistant.ingest.load import Document
from assistant.schema import Chunk, Sentence

MAX_WORDS = 150  # MiniLM truncates at 256 word pieces; 150 words stays well under it
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|vs|Dr|Mr|Mrs|Ms|St|approx|cf|Fig|No)\.|\b[A-Z]\.)$")
_BOUNDARY = re.compile(r"(?<=[.!?])(?:\s*\[S\d{2}\])*[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass
class _Section:
    path: str
    text: str
    offset: int


def split_document(doc: Document) -> list[Chunk]:
    """Split a document into chunks of whole sentences, never crossing a heading."""
    chunks: list[Chunk] = []
    for section in _sections(doc):
        for i, (start, sentences) in enumerate(_pack(section)):
            text = section.text[start : sentences[-1].end]
            rel = [Sentence(text=s.text, start=s.start - start, end=s.end - start) for s in sentences]
            digest = hashlib.sha256(text.encode()).hexdigest()[:12]
            sec_key = re.sub(r"[^a-z0-9]+", "-", section.path.lower()).strip("-")[:60]
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}:{sec_key}:{i}:{digest}",
                    doc_id=doc.doc_id,
                    title=doc.title,
                    section=section.path,
                    text=text,
                    sentences=rel,
                )
            )
    return chunks


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with offsets; a trailing ``[Sxx]`` marker stays with the sentence it supports."""
    out: list[Sentence] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        candidate = text[start : m.start()].rstrip()
        if _ABBREV.search(candidate):
            continue
        _append(out, text, start, m.start())
        start = m.end()
    _append(out, text, start, len(text))
    return out


def _append(out: list[Sentence], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip()
    if piece:
        out.append(Sentence(text=piece, start=start + lead, end=start + lead + len(piece)))


def _sections(doc: Document) -> list[_Section]:
    body = doc.body
    heads = list(_HEADING.finditer(body))
    sections: list[_Section] = []
    trail: list[tuple[int, str]] = []
    bounds = [(0, None)] + [(h.end(), h) for h in heads]
    for idx, (start, head) in enumerate(bounds):
        if head is not None:
            level = len(head.group(1))
            trail = [t for t in trail if t[0] < level] + [(level, head.group(2).strip())]
        end = heads[idx].start() if idx < len(heads) else len(body)
        text = body[start:end]
        if text.strip():
            path = " > ".join(t[1] for t in trail if t[0] > 1) or (trail[0][1] if trail else doc.title)
            sections.append(_Section(path=path, text=text, offset=start))
    return sections


def _pack(section: _Section) -> list[tuple[int, list[Sentence]]]:
    """Group a section's sentences (paragraph by paragraph) into chunks under MAX_WORDS."""
    sentences: list[Sentence] = []
    for start, block in _blocks(section.text):
        for s in split_sentences(block):
            sentences.append(Sentence(text=s.text, start=s.start + start, end=s.end + start))
    groups: list[tuple[int, list[Sentence]]] = []
    current: list[Sentence] = []
    words = 0
    for s in sentences:
        n = len(s.text.split())
        if current and words + n > MAX_WORDS:
            groups.append((current[0].start, current))
            current, words = [], 0
        current.append(s)
        words += n
    if current:
        groups.append((current[0].start, current))
    return groups


_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def _blocks(text: str) -> list[tuple[int, str]]:
    """Paragraphs and list items with their offsets; bullet markers are left outside the block."""
    blocks: list[tuple[int, str]] = []
    start: int | None = None
    pos = 0
    for line in text.splitlines(keepends=True):
        bullet = _BULLET.match(line)
        if not line.strip() or bullet:
            if start is not None:
                blocks.append((start, text[start:pos]))
                start = None
            if bullet:
                start = pos + bullet.end()
        elif start is None:
            start = pos
        pos += len(line)
    if start is not None:
        blocks.append((start, text[start:pos]))
    return [(b, t) for b, t in blocks if t.strip()]
