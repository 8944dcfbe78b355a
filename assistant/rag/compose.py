"""Extractive composer: picks whole source sentences (vectors computed at ingest) and cites each one."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.config import AnswerSettings
from assistant.ingest.frontmatter import SOURCE_MARKER, strip_markers
from assistant.ingest.split import split_sentences
from assistant.providers.store import ChromaStore, StoredChunk
from assistant.rag.retrieve import Retrieved, stems
from assistant.schema import Citation, Reference

_DEPENDENT = re.compile(
    r"^(it|its|this|that|these|those|they|them|their|such|he|she|both|however|but|also|and|so|then|here|there|"
    r"the same|in the same|in that|in this|later|another|other|again|likewise|similarly|as a result|for example|"
    r"the (?:trial|study|review|panel|survey|cohort|analysis|authors|researchers)\b(?! of| from| by| in \d))\b",
    re.I,
)
_STAGES: list[re.Pattern[str]] = [
    re.compile(r"\b(is an?|is the|are an?|means|refers to|is called|nicknamed?|is a term)\b", re.I),
    re.compile(r"\b(cause|causes|risk|because|linked|due to|overuse|predict|load|more common)\b", re.I),
    re.compile(r"\b(help|helps|exercise|strength|treat|tape|taping|orthos|reduce|manage|recommend)\b", re.I),
    re.compile(r"\b(see a|physio|doctor|professional|urgent|assess|examin)\b", re.I),
]
NEAR_DUPLICATE = 0.75  # cosine of two sentence vectors above which they say the same thing in other words
LEAD_SENTENCES = 2  # a section opens with one or two sentences that answer its heading (corpus/README.md)
# A lead answers its section's question, so it opens an answer only when the person asked much the same thing; a
# bare verdict ("Yes.", "Usually not.") needs a closer match still, since it says nothing of what it answers.
LEAD_MIN_SIMILARITY = 0.7
VERDICT_MIN_SIMILARITY = 0.8
BARE_VERDICT_WORDS = 5
YES_NO_QUESTION = re.compile(
    r"(?:^|[.!?]\s+|\b(?:so|and|but|also|or)\s+)(?:should|shall|can|could|would|will|is|are|am|do|does|did|has|have|"
    r"was|were|must)\b[^.!?]*\?", re.I)
MIN_WORDS = 6
LEXICAL_WEIGHT = 0.15
# Every article ends with a "when to see a professional" section; the referral already says that, so those
# sentences only lead when the question is about whom to see or when to worry.
REFERRAL_SECTION = re.compile(r"when to see|who to see|red flag|urgent", re.I)
REFERRAL_QUESTION = re.compile(
    r"\b(see|doctor|physio\w*|gp|worr\w*|urgent|emergency|a&e|professional|specialist|surgeon|checked)\b", re.I)
REFERRAL_PENALTY = 0.15
MAX_WITH_LEADS = 7  # sentences at most when several asks each get their lead
# A sentence about a situation the message never raises (an operation, a race, arthritis, a child) is advice for
# another person: each situation is named by what the sentence says and by what the message would say to raise it.
SITUATIONS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"\b(surger\w*|operat(?:ion|ed)\w*|arthroscop\w*|surgeon|post-?op\w*|reconstruct\w*)\b", re.I),
     re.compile(r"\b(surger\w*|operat\w*|arthroscop\w*|surgeon|scope|post-?op|reconstruct\w*|menisc\w*|torn|tear|"
                r"mri|acl|ligament)\b", re.I)),
    (re.compile(r"\b(race|races|racing|race day|marathons?|taper\w*|start line|ultra\w*)\b", re.I),
     re.compile(r"\b(race|races|racing|marathons?|half|10 ?k|5 ?k|event|ironman|triathlon|parkrun|taper\w*|ultra\w*|"
                r"compet\w*)\b", re.I)),
    (re.compile(r"\b(osteoarthritis|arthritis|arthritic)\b", re.I),
     re.compile(r"\b(arthrit\w*|osteoarthrit\w*|wear(?:ing)? (?:out|down)|worn|cartilage|degenerat\w*|older|age|"
                r"elderly|[4-9]\d[- ]?(?:years?|yo|y/o)|i'?m [4-9]\d|aged? [4-9]\d|over [4-9]0|grinding|crunch\w*)\b",
                re.I)),
    (re.compile(r"\b(teen\w*|adolescen\w*|child\w*|kids?|growth spurts?|young athletes?|schoolchildren)\b", re.I),
     re.compile(r"\b(teen\w*|adolescen\w*|child\w*|kids?|son|daughter|school|coach\w*|growth|osgood|youth|junior|"
                r"1[0-7][- ]?(?:years?|yo|y/o)|young athletes?)\b", re.I)),
)
CONTEXT_PENALTY = 0.2
# A sentence sending the reader to same-day or emergency care answers "when should I worry"; in answer to another
# question it reads as an alarm about symptoms the person never reported, and the referral already names those signs.
URGENT_PENALTY = 0.3
URGENT_ADVICE = re.compile(r"\b(same[- ]day|emergency|a&e|straight away|right away|urgent\w*)\b", re.I)


@dataclass
class _Unit:
    """One or two adjacent sentences quoted together (a dependent sentence travels with its antecedent)."""

    chunk: StoredChunk
    start: int
    end: int
    score: float
    vector: np.ndarray
    rank: int

    @property
    def quote(self) -> str:
        return self.chunk.text[self.start : self.end]


@dataclass
class Composition:
    text: str
    citations: list[Citation]
    chosen: list[str]


class ExtractiveComposer:
    """Chooses 3-7 sentences that answer the question, in reading order, each with its ``[n]``."""

    def __init__(self, store: ChromaStore, settings: AnswerSettings) -> None:
        self._store = store
        self._settings = settings

    def compose(self, retrieved: Retrieved, skip: Callable[[str], bool] | None = None,
                max_sentences: int | None = None, asks: Sequence[Retrieved] = (), lead: bool = True) -> Composition:
        """``skip`` leaves out sentences it is true for (a dose, for a dosing refusal); ``max_sentences`` caps the
        answer below the configured length (a short background after a clarifying question).

        The answer opens with the lead of the section whose question best matches each ask (``asks``: one retrieval
        per question of the message, in the order asked; none: the message's own retrieval), quoted whole and in
        order; the best remaining sentences follow, none saying again what an earlier one said. ``lead=False``:
        background facts, not an answer (beside a clarifying question or a dosing refusal), so no verdict opens them.
        """
        units = [u for u in self._candidates(retrieved) if skip is None or not skip(u.quote)]
        leads = self._leads(list(asks) or [retrieved], skip) if lead else []
        picked: list[_Unit] = list(leads)
        floor = (units[0].score - 0.2) if units else 0.0
        most = min(self._settings.max_sentences, max_sentences or self._settings.max_sentences)
        most = min(MAX_WITH_LEADS, most + max(0, len(leads) - LEAD_SENTENCES))
        for unit in units:
            if len(picked) >= most:
                break
            if unit.score < floor and len(picked) >= self._settings.min_sentences:
                break
            if any(_overlaps(unit, p) or float(unit.vector @ p.vector) > NEAR_DUPLICATE for p in picked):
                continue
            picked.append(unit)
        rest = sorted(picked[len(leads):], key=lambda u: (_stage(u.quote), u.rank, u.start))
        picked = [*leads, *rest]
        citations: list[Citation] = []
        lines: list[str] = []
        for n, unit in enumerate(picked, start=1):
            citations.append(_citation(n, unit))
            # every sentence carries its citation, also the two of a quote that keeps a sentence with its antecedent
            lines.append(" ".join(f"{strip_markers(part.text)} [{n}]" for part in split_sentences(unit.quote)))
        return Composition(text=" ".join(lines), citations=citations, chosen=[u.quote for u in picked])

    def _leads(self, asks: list[Retrieved], skip: Callable[[str], bool] | None) -> list[_Unit]:
        """The opening sentences of the section best matching each ask by its questions, in the order asked."""
        out: list[_Unit] = []
        for ask in asks:
            matched = [c for c in ask.chunks if ask.scores.get(c.chunk_id, {}).get("question") is not None]
            if not matched:
                continue
            best = max(matched, key=lambda c: ask.scores[c.chunk_id]["question"])
            similarity = ask.scores[best.chunk_id]["question"]
            if similarity < LEAD_MIN_SIMILARITY or any(u.chunk.chunk_id == best.chunk_id for u in out):
                continue
            stored = self._store.sentences([best.chunk_id])
            opening = len(best.text.split("\n\n", 1)[0])
            rows = [r for r in sorted(range(len(stored.chunk_ids)), key=lambda r: stored.positions[r])
                    if stored.ends[r] <= opening][:LEAD_SENTENCES]
            units = [_Unit(best, stored.starts[r], stored.ends[r], 1.0, stored.vectors[r], -1) for r in rows]
            bare = bool(units) and len(units[0].quote.split()) <= BARE_VERDICT_WORDS
            if bare and (similarity < VERDICT_MIN_SIMILARITY or not YES_NO_QUESTION.search(ask.query)):
                # a bare "Yes." answers only a yes/no question, and only one much like its section's; what is left
                # must not lean on the verdict it followed
                units = units[1:]
                if units and _DEPENDENT.match(strip_markers(units[0].quote)):
                    continue
            if not units:
                continue
            if len(units) == 2 and _DEPENDENT.match(strip_markers(units[1].quote)):  # one quote with its antecedent
                pair = units[0].vector + units[1].vector
                units = [_Unit(best, units[0].start, units[1].end, 1.0, pair / (np.linalg.norm(pair) or 1.0), -1)]
            if any(skip is not None and skip(u.quote) for u in units) or any(
                    float(u.vector @ p.vector) > NEAR_DUPLICATE for u in units for p in out):
                continue
            out += units  # quoted whole and in order, each sentence with its own citation
        return out

    def _candidates(self, retrieved: Retrieved) -> list[_Unit]:
        chunks = {c.chunk_id: c for c in retrieved.chunks}
        if not chunks:
            return []
        stored = self._store.sentences(list(chunks))
        # A chunk's own fused score ranks it here (the retriever orders chunks by their document's score).
        by_fused = sorted(chunks, key=lambda cid: -retrieved.scores.get(cid, {}).get("fused", 0.0))
        rank = {cid: i for i, cid in enumerate(by_fused)}
        by_pos: dict[tuple[str, int], int] = {
            (cid, pos): row for row, (cid, pos) in enumerate(zip(stored.chunk_ids, stored.positions, strict=True))
        }
        sims = stored.vectors @ retrieved.query_vector if len(stored.chunk_ids) else np.zeros(0)
        terms = set(stems(retrieved.query))
        demote = not REFERRAL_QUESTION.search(retrieved.query)
        units: list[_Unit] = []
        for row, cid in enumerate(stored.chunk_ids):
            chunk = chunks[cid]
            start, end = stored.starts[row], stored.ends[row]
            text = chunk.text[start:end]
            if len(text.split()) < MIN_WORDS or text.rstrip().endswith("?"):
                continue
            chunk_bonus = 0.15 * max(0.0, 1.0 - rank[cid] / max(1, len(chunks)))
            chunk_bonus += _lexical(terms, text)
            if demote and REFERRAL_SECTION.search(str(chunk.metadata.get("section", ""))):
                chunk_bonus -= REFERRAL_PENALTY
            if demote and URGENT_ADVICE.search(text):
                chunk_bonus -= URGENT_PENALTY
            if any(says.search(text) and not raised.search(retrieved.query) for says, raised in SITUATIONS):
                chunk_bonus -= CONTEXT_PENALTY
            score = float(sims[row]) + chunk_bonus
            vector = stored.vectors[row]
            if _DEPENDENT.match(strip_markers(text)):
                prev = by_pos.get((cid, stored.positions[row] - 1))
                if prev is None:
                    continue
                start = stored.starts[prev]
                score = (score + float(sims[prev]) + chunk_bonus) / 2
                vector = stored.vectors[prev] + vector
                vector = vector / (np.linalg.norm(vector) or 1.0)
            units.append(_Unit(chunk, start, end, score, vector, rank[cid]))
        units.sort(key=lambda u: -u.score)
        return units


def _lexical(terms: set[str], text: str) -> float:
    """Share of the question's content words (compared by their first five letters) found in the sentence."""
    if not terms:
        return 0.0
    found = set(stems(text)) & terms
    return LEXICAL_WEIGHT * len(found) / len(terms)


def _overlaps(a: _Unit, b: _Unit) -> bool:
    return a.chunk.chunk_id == b.chunk.chunk_id and a.start < b.end and b.start < a.end


def _stage(text: str) -> int:
    for i, pattern in enumerate(_STAGES):
        if pattern.search(text):
            return i
    return len(_STAGES)


def _citation(n: int, unit: _Unit) -> Citation:
    return cite(n, unit.chunk, unit.start, unit.end)


def cite(n: int, chunk: StoredChunk, start: int, end: int) -> Citation:
    """Citation ``n`` for the exact text ``chunk.text[start:end]``, with the references its markers name."""
    meta = chunk.metadata
    quote = chunk.text[start:end]
    refs: dict[str, dict[str, str]] = json.loads(str(meta.get("sources") or "{}"))
    # A sentence without its own marker (a section's plain-language lead) rests on the evidence cited around it in
    # the same passage, not on whichever source the article happens to list first.
    markers = list(dict.fromkeys([m for m in SOURCE_MARKER.findall(quote) if m in refs] or [
        m for m in SOURCE_MARKER.findall(chunk.text) if m in refs]))
    return Citation(
        n=n,
        doc_id=chunk.doc_id,
        title=str(meta.get("title", "")),
        section=str(meta.get("section", "")),
        url=refs[markers[0]]["link"] if markers else str(meta.get("url", "")),
        quote=quote,
        evidence=str(meta.get("evidence", "")),
        sources=[f"{refs[m]['short']}: {refs[m]['title']}" for m in markers],
        references=[Reference(label=refs[m]["short"], title=refs[m]["title"], link=refs[m].get("link", ""),
                              publisher=refs[m].get("publisher", "")) for m in markers],
        page=int(meta["page"]) if "page" in meta else None,
    )
