"""Key points judged by meaning, offline, and sentences that stray from the question.

A key point ("cut the load rather than stop running") is met when a sentence of the reply, or two neighbouring
sentences read together, say the same thing: the bundled embedding model's cosine similarity is the main signal,
and the share of the key point's content words found in the reply is a second one, so a close paraphrase with the
same words counts at a lower similarity. The thresholds are calibrated on ``evals/keypoint_labels.yaml`` (pairs
judged by blind reviewers); ``python -m assistant.evaluation.calibrate`` re-derives them and prints the agreement.

The evaluator keeps its own sentence splitter and word list: it must not share the code it measures.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.evaluation.matching import words

Embed = Callable[[list[str]], np.ndarray]

_MARKERS = re.compile(r"\s*\[(?:S?\d+)\]")
_MARKDOWN = re.compile(r"^\s*(?:[-*>#]+|\d+[.)])\s*|\*\*|__|`", re.M)
_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n+")
_STOP = frozenset(
    "a an and are as at be been being but by can could do does for from had has have how i if in into is it its "
    "may might more most much no not of on or so some such than that the their them then there these they this "
    "those to too was were what when where which while who why will with would you your yours about also any "
    "each other over under very just only should".split()
)


@dataclass(frozen=True)
class Thresholds:
    """Where "met" and "off topic" begin (cosine similarity of unit vectors; share of content words)."""

    # Fitted on the calibration half of evals/keypoint_labels.yaml (calibrate.py --fit); agreement in evals/README.md.
    alone: float = 0.66  # a key point is met on meaning alone at this similarity
    with_words: float = 0.38  # ... or at this lower similarity when the reply holds enough of its content words
    words: float = 0.4  # the share of content words that counts as "enough"
    off_topic: float = 0.3  # a reply sentence less similar than this to every part of the question strays


DEFAULT = Thresholds()


@dataclass(frozen=True)
class PointVerdict:
    """Whether one key point is met, with the evidence: the closest sentence (or pair) and both signals."""

    point: str
    met: bool
    similarity: float
    word_share: float
    closest: str

    def as_dict(self) -> dict[str, object]:
        return {"point": self.point, "met": self.met, "similarity": round(self.similarity, 3),
                "word_share": round(self.word_share, 3), "closest": self.closest}


def reply_sentences(text: str) -> list[str]:
    """The sentences of a reply as a reader sees them: no [n] or [S12] markers, no markdown signs."""
    clean = _MARKDOWN.sub("", _MARKERS.sub("", text))
    return [s.strip() for s in _SPLIT.split(clean) if len(s.split()) >= 3]


def content_stems(text: str) -> set[str]:
    """The stems of a text's content words (no stop words, three letters or more)."""
    w = words(text)
    return {s for raw, s in zip(w.raw, w.stems, strict=True) if raw not in _STOP and len(raw) >= 3}


def word_share(point: str, reply_stems: set[str]) -> float:
    wanted = content_stems(point)
    return len(wanted & reply_stems) / len(wanted) if wanted else 0.0


def decide(similarity: float, share: float, limits: Thresholds = DEFAULT) -> bool:
    return similarity >= limits.alone or (similarity >= limits.with_words and share >= limits.words)


def judge_points(points: list[str], sentences: list[str], embed: Embed,
                 limits: Thresholds = DEFAULT) -> list[PointVerdict]:
    """A verdict for each key point against the reply's ``sentences`` (one batched embedding call)."""
    if not points:
        return []
    units = sentences + [f"{a} {b}" for a, b in itertools.pairwise(sentences)]
    reply_stems = content_stems(" ".join(sentences))
    if not units:
        return [PointVerdict(p, False, 0.0, 0.0, "") for p in points]
    vectors = embed(points + units)
    sims = vectors[: len(points)] @ vectors[len(points):].T
    verdicts = []
    for i, point in enumerate(points):
        best = int(np.argmax(sims[i]))
        similarity, share = float(sims[i, best]), word_share(point, reply_stems)
        verdicts.append(PointVerdict(point, decide(similarity, share, limits), similarity, share, units[best]))
    return verdicts


def question_parts(question: str) -> list[str]:
    """The whole question and, for a longer message, each of its sentences (the embedding model reads 256 word
    pieces at most, so a long story would otherwise hide its question)."""
    parts = [question]
    sentences = [s.strip() for s in _SPLIT.split(question) if len(s.split()) >= 3]
    return parts + sentences if len(sentences) > 1 else parts


def off_topic(question: str, sentences: list[str], embed: Embed, limits: Thresholds = DEFAULT) -> list[int]:
    """1-based numbers of the reply sentences less similar than ``limits.off_topic`` to every part of the question."""
    return [i + 1 for i, s in enumerate(similarity_to_question(question, sentences, embed)) if s < limits.off_topic]


def similarity_to_question(question: str, sentences: list[str], embed: Embed) -> list[float]:
    """Each sentence's highest similarity to a part of the question (for calibration and reports)."""
    if not sentences or not question.strip():
        return []
    parts = question_parts(question)
    vectors = embed(parts + sentences)
    return [float(s) for s in (vectors[len(parts):] @ vectors[: len(parts)].T).max(axis=1)]
