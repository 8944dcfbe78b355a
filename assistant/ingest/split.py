"""Heading-aware chunking with stable ids and sentence offsets, bounded in the embedding model's own tokens."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from assistant.ingest.frontmatter import strip_markers
from assistant.ingest.load import Document
from assistant.schema import Chunk, Sentence

Counter = Callable[[list[str]], list[int]]
MIN_TOKENS = 32  # a chunk limit never drops below this, however long a title and section are
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|vs|Dr|Mr|Mrs|Ms|St|approx|cf|Fig|No)\.|\b[A-Z]\.)$")
_BOUNDARY = re.compile(r"(?<=[.!?])(?:\s*\[S\d{2}\])*[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_LINE = re.compile(r"[^\n]*\S[^\n]*")
_WORD = re.compile(r"\S+")
_ESTIMATE = re.compile(r"\w{1,6}|[^\w\s]")


class Tokenizing(Protocol):
    """What a token budget needs from the embedding model (``LocalEmbeddings`` has both)."""

    max_seq_length: int

    def count_tokens(self, texts: list[str], special: bool = True) -> list[int]: ...


@dataclass(frozen=True)
class TokenBudget:
    """Chunk and sentence sizes in word pieces of the embedding model, so nothing it embeds is truncated.

    ``count`` gives word pieces per text without the model's special tokens; ``model_tokens`` is the model's input
    limit with them (256 for MiniLM). A chunk is embedded as "title. section. text", so its text gets what the
    title and section leave, and at most ``chunk_tokens``. A longer "sentence" than ``sentence_tokens`` is cut:
    prose sentences of the corpus stay under 70, and a quote should stay readable.
    """

    count: Counter
    model_tokens: int = 256
    chunk_tokens: int = 200
    overlap_tokens: int = 0
    sentence_tokens: int = 100

    @classmethod
    def for_model(cls, model: Tokenizing, chunk_tokens: int = 200, overlap_tokens: int = 0) -> TokenBudget:
        """The budget of ``model``, counted with its own tokenizer."""
        return cls(
            count=lambda texts: model.count_tokens(texts, special=False),
            model_tokens=model.max_seq_length,
            chunk_tokens=chunk_tokens,
            overlap_tokens=overlap_tokens,
        )

    @classmethod
    def estimate(cls) -> TokenBudget:
        """An approximate budget (words and punctuation, long words in pieces) for callers without the model."""
        return cls(count=lambda texts: [len(_ESTIMATE.findall(t)) for t in texts])

    def limits(self, prefixes: list[str]) -> list[int]:
        """Most word pieces of chunk text after each prefix (2 of the model's tokens are [CLS] and [SEP])."""
        room = [self.model_tokens - 2 - n for n in self.count(prefixes)]
        return [max(MIN_TOKENS, min(self.chunk_tokens, r)) for r in room]


@dataclass
class _Section:
    path: str
    text: str
    offset: int


def context(title: str, section: str, text: str) -> str:
    """What is embedded for a chunk: title and section for context, then its text without source markers."""
    return f"{title}. {section}. {strip_markers(text)}"


def split_document(doc: Document, budget: TokenBudget | None = None) -> list[Chunk]:
    """Split a document into chunks of whole sentences, never crossing a heading, each within the token budget.

    Ingestion passes the model's budget; without one an estimate is used (same chunks every time, but not
    guaranteed to fit the model).
    """
    budget = budget or TokenBudget.estimate()
    sections = _sections(doc)
    asked = doc.meta.questions if doc.meta else {}
    limits = budget.limits([context(doc.title, s.path, "") for s in sections])
    chunks: list[Chunk] = []
    for section, limit in zip(sections, limits, strict=True):
        sec_key = re.sub(r"[^a-z0-9]+", "-", section.path.lower()).strip("-")[:60]
        questions = _questions(section.path, asked)
        for i, sentences in enumerate(_pack(section, budget, limit)):
            start = sentences[0].start
            text = section.text[start : sentences[-1].end]
            rel = [Sentence(text=s.text, start=s.start - start, end=s.end - start) for s in sentences]
            mine = questions if i == 0 else []
            digest = hashlib.sha256("\n".join([text, *mine]).encode()).hexdigest()[:12]
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}:{sec_key}:{i}:{digest}",
                    doc_id=doc.doc_id,
                    title=doc.title,
                    section=section.path,
                    text=text,
                    sentences=rel,
                    questions=mine,
                )
            )
    return chunks


def _questions(path: str, asked: dict[str, list[str]]) -> list[str]:
    """The questions a section answers: its heading when phrased as one, then the article's variants for it."""
    heading = path.rsplit(" > ", 1)[-1].strip()
    variants = asked.get(path) or asked.get(heading) or []
    found = ([heading] if heading.endswith("?") else []) + [v.strip() for v in variants]
    return list(dict.fromkeys(q for q in found if q))


def split_sentences(text: str, budget: TokenBudget | None = None, limit: int | None = None) -> list[Sentence]:
    """Sentences with offsets; a trailing ``[Sxx]`` marker stays with the sentence it supports.

    With a ``budget``, a "sentence" over its ``sentence_tokens`` word pieces (or ``limit``, when smaller) - PDF text
    without punctuation can make one per page - is cut at line breaks, else between words.
    """
    sentences = _punctuated(text)
    if budget is None:
        return sentences
    return [s for s, _ in _fit(text, sentences, budget, limit or budget.chunk_tokens)]


def _punctuated(text: str) -> list[Sentence]:
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


def _fit(text: str, sentences: list[Sentence], budget: TokenBudget, limit: int) -> list[tuple[Sentence, int]]:
    """Sentences of ``text`` with their word pieces, over-long ones cut into pieces within ``limit``."""
    limit = min(limit, budget.sentence_tokens)
    out: list[tuple[Sentence, int]] = []
    for s, n in zip(sentences, budget.count([s.text for s in sentences]), strict=True):
        if n <= limit:
            out.append((s, n))
            continue
        for a, b, size in _cut(text, s.start, s.end, budget.count, limit, _LINE):
            piece: list[Sentence] = []
            _append(piece, text, a, b)
            out += [(p, size) for p in piece]
    return out


def _cut(
    text: str, start: int, end: int, count: Counter, limit: int, unit: re.Pattern[str]
) -> list[tuple[int, int, int]]:
    """``text[start:end]`` as (start, end, word pieces) spans within ``limit``: whole lines, else words.

    Lines and words meet at whitespace, where the tokenizer splits anyway, so their counts add up; a single word
    over the limit is cut into runs of ``limit`` characters (no character is more than one word piece) that are
    given the whole limit, so each stays a chunk of its own.
    """
    spans = [(start + m.start(), start + m.end()) for m in unit.finditer(text[start:end])]
    pieces: list[tuple[int, int, int]] = []
    for (a, b), n in zip(spans, count([text[a:b] for a, b in spans]), strict=True):
        if n <= limit:
            pieces.append((a, b, n))
        elif unit is _LINE:
            pieces += _cut(text, a, b, count, limit, _WORD)
        else:
            pieces += [(x, min(x + limit, b), limit) for x in range(a, b, limit)]
    merged: list[tuple[int, int, int]] = []
    for a, b, n in pieces:
        if merged and merged[-1][2] + n <= limit:
            merged[-1] = (merged[-1][0], b, merged[-1][2] + n)
        else:
            merged.append((a, b, n))
    return merged


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


def _pack(section: _Section, budget: TokenBudget, limit: int) -> list[list[Sentence]]:
    """Group a section's sentences (paragraph by paragraph) into chunks of at most ``limit`` word pieces.

    Text between two sentences of a chunk (a list bullet) counts too; a new chunk inside a section starts with
    its predecessor's last sentences up to ``overlap_tokens``.
    """
    found = [_shift(s, start) for start, block in _blocks(section.text) for s in _punctuated(block)]
    sized = _fit(section.text, found, budget, limit)
    gaps = _gap_sizes(section.text, [s for s, _ in sized], budget.count)
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i, (_, n) in enumerate(sized):
        if current and used + gaps[i] + n > limit:
            groups.append(current)
            current = _overlap(current, sized, gaps, budget.overlap_tokens, limit - gaps[i] - n)
            used = _size(current, sized, gaps)
        used += (gaps[i] if current else 0) + n
        current.append(i)
    if current:
        groups.append(current)
    return [[sized[i][0] for i in group] for group in groups]


def _overlap(group: list[int], sized: list[tuple[Sentence, int]], gaps: list[int], most: int, room: int) -> list[int]:
    """The longest strict tail of ``group`` within ``most`` word pieces that also fits in ``room``."""
    tail: list[int] = []
    for i in reversed(group[1:]):
        if _size([i, *tail], sized, gaps) > min(most, room):
            break
        tail.insert(0, i)
    return tail


def _size(group: list[int], sized: list[tuple[Sentence, int]], gaps: list[int]) -> int:
    return sum(sized[i][1] for i in group) + sum(gaps[i] for i in group[1:])


def _gap_sizes(text: str, sentences: list[Sentence], count: Counter) -> list[int]:
    """Word pieces between each sentence and the one before it (bullets and list numbers; usually 0)."""
    gaps = [text[prev.end : s.start] for prev, s in pairwise(sentences)]
    at = [i + 1 for i, g in enumerate(gaps) if g.strip()]
    sizes = [0] * len(sentences)
    for i, n in zip(at, count([gaps[i - 1] for i in at]), strict=True):
        sizes[i] = n
    return sizes


def _shift(s: Sentence, by: int) -> Sentence:
    return Sentence(text=s.text, start=s.start + by, end=s.end + by)


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
