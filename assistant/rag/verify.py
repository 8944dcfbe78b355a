"""Claim-level citation check for LLM answers: each sentence must cite a passage that supports it.

A claim is supported by a passage when its embedding is close to one of the passage's sentences (vectors stored at
ingest) AND enough of its content words appear in the passage AND every number it states appears there too AND its
negation matches that sentence's (or one nearly as close): a cheap guard against "does not support" → "supports".
Thresholds are tuned on ``evals/verifier_labels.yaml`` (``tests/test_llm.py`` reports precision and recall).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.ingest.frontmatter import strip_markers
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import ChromaStore, StoredChunk
from assistant.rag.retrieve import tokenize

# Tuned on evals/verifier_labels.yaml (60 pairs): precision 0.91, recall 0.97 for "supported". Both sit on a plateau
# (SIM_MIN 0.4-0.55, LEX_MIN 0.45-0.5); the strict end is taken because a wrongly kept claim costs more than a
# wrongly dropped one. Wrongly kept: contradictions and overreach that reuse the passage's own words ("sitting eases
# the pain" against "sitting worsens it"), which similarity and word overlap cannot see.
SIM_MIN = 0.55  # cosine similarity of the claim to its best-matching passage sentence
LEX_MIN = 0.5  # share of the claim's content words (crudely stemmed) found in the passage
POLARITY_MARGIN = 0.1  # sentences this close to the best match may also vouch for the claim's negation

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_MARKER_RUN = r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])+"
_MOVE_MARKERS = re.compile(rf"([.!?])({_MARKER_RUN})")
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=\S)|\s*\n+\s*")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|vs|Dr|approx|cf)\.|\b[A-Z]\.)$")
_BULLET = re.compile(r"^(?:[-*•]\s+|\d+[.)]\s+|#+\s+)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_Sentences = tuple[list[tuple[int, int]], np.ndarray]
_NEGATION = re.compile(r"\b(?:not|no|never|none|nor|neither|cannot)\b|n't\b", re.I)
_NOT_NEGATION = re.compile(r"\b(?:or not|not only|no (?:pain|one))\b", re.I)  # "whether or not", "0 is no pain"
_SUFFIXES = ("ingly", "ings", "ing", "edly", "ed", "ers", "er", "es", "s", "ly")


@dataclass(frozen=True)
class Evidence:
    """The passage sentence that best supports a claim, with the scores that judged it."""

    n: int
    start: int
    end: int
    similarity: float
    overlap: float
    consistent: bool  # numbers and negation agree with the passage

    @property
    def supported(self) -> bool:
        return is_supported(self.similarity, self.overlap, self.consistent)


@dataclass
class Claim:
    """One answer sentence: as written, without its markers, and the passages it cites."""

    sentence: str
    text: str
    cited: list[int]
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Verification:
    kept: list[Claim]
    removed: list[str]


def is_supported(similarity: float, overlap: float, consistent: bool) -> bool:
    return consistent and similarity >= SIM_MIN and overlap >= LEX_MIN


def split_claims(text: str) -> list[Claim]:
    """Answer sentences with their ``[n]`` markers (``[1][2]`` and ``[1, 2]`` both count)."""
    text = _MOVE_MARKERS.sub(lambda m: f"{m.group(2)}{m.group(1)}", text.replace("**", ""))
    pieces: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        piece = text[start : m.start()]
        if "\n" not in m.group(0) and _ABBREV.search(piece):
            continue
        pieces.append(piece)
        start = m.end()
    pieces.append(text[start:])
    claims: list[Claim] = []
    for piece in pieces:
        sentence = _BULLET.sub("", piece.strip()).strip()
        if not sentence:
            continue
        cited = [int(n) for group in _MARKER.findall(sentence) for n in re.split(r"\s*,\s*", group)]
        bare = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", sentence)).strip()
        claims.append(Claim(sentence=sentence, text=bare, cited=list(dict.fromkeys(cited))))
    return claims


def lexical_overlap(claim: str, passage: str) -> float:
    """Share of the claim's content words that also occur in the passage (after crude stemming)."""
    words = {_stem(t) for t in tokenize(claim)}
    if not words:
        return 0.0
    return len(words & {_stem(t) for t in tokenize(passage)}) / len(words)


def numbers_agree(claim: str, passage: str) -> bool:
    """Every number the claim states (digits or one..twelve) also appears in the passage."""
    return _numbers(claim) <= _numbers(strip_markers(passage))


def judge(claim: str, claim_vector: np.ndarray, passage: str, spans: list[tuple[int, int]],
          vectors: np.ndarray, n: int = 0) -> Evidence:
    """Score one claim against one passage whose sentences are ``spans`` with unit ``vectors`` (rows)."""
    overlap = lexical_overlap(claim, strip_markers(passage))
    numbers_ok = numbers_agree(claim, passage)
    if not spans:
        return Evidence(n, 0, len(passage), 0.0, overlap, False)
    sims = vectors @ claim_vector
    best = int(np.argmax(sims))
    near = [i for i, sim in enumerate(sims) if sim >= sims[best] - POLARITY_MARGIN]
    polarity_ok = any(_negated(claim) == _negated(passage[spans[i][0] : spans[i][1]]) for i in near)
    return Evidence(n, *spans[best], float(sims[best]), overlap, numbers_ok and polarity_ok)


class CitationVerifier:
    """Keeps the sentences whose cited passages support them; the rest are removed and reported."""

    def __init__(self, embeddings: LocalEmbeddings, store: ChromaStore) -> None:
        self._embeddings = embeddings
        self._store = store

    def verify(self, text: str, passages: list[StoredChunk]) -> Verification:
        """Check ``text`` against ``passages`` numbered from 1 in the order given to the model."""
        claims = split_claims(text)
        vectors = self._embeddings.encode([c.text for c in claims])
        sentences = self._sentences(passages)
        kept: list[Claim] = []
        removed: list[str] = []
        for claim, vector in zip(claims, vectors, strict=True):
            for n in claim.cited:
                if not 1 <= n <= len(passages):
                    continue
                spans, rows = sentences[passages[n - 1].chunk_id]
                evidence = judge(claim.text, vector, passages[n - 1].text, spans, rows, n)
                if evidence.supported:
                    claim.evidence.append(evidence)
            if claim.evidence:
                kept.append(claim)
            else:
                removed.append(claim.sentence)
        return Verification(kept=kept, removed=removed)

    def _sentences(self, passages: list[StoredChunk]) -> dict[str, _Sentences]:
        """Per chunk: its sentence spans in reading order and their ingest-time vectors."""
        empty = np.zeros((0, self._embeddings.dimension), np.float32)
        out: dict[str, _Sentences] = {p.chunk_id: ([], empty) for p in passages}
        if not passages:
            return out
        stored = self._store.sentences(list(out))
        for cid in out:
            rows = sorted((i for i, c in enumerate(stored.chunk_ids) if c == cid), key=lambda i: stored.positions[i])
            if rows:
                out[cid] = ([(stored.starts[i], stored.ends[i]) for i in rows], stored.vectors[rows])
        return out


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(_NOT_NEGATION.sub(" ", text)))


def _stem(token: str) -> str:
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            token = token[: -len(suffix)]
            break
    if len(token) > 3 and token[-1] == token[-2]:
        token = token[:-1]
    return token[:7]


def _numbers(text: str) -> set[str]:
    found = set(_NUMBER.findall(text))
    found |= {_NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _NUMBER_WORDS}
    return found - {"0"}
