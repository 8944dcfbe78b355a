"""How well the meaning checks agree with blind reviewers: ``python -m assistant.evaluation.calibrate [LABELS]``.

``evals/keypoint_labels.yaml`` holds replies graded by reviewers who saw only the questions, the replies, the key
points and ``shared/realworld/RUBRIC.md``: for each key point whether the reply meets it, and which of the reply's
numbered sentences stray from the question. The cases are split in two by a hash of their id: thresholds are chosen
on the first half (``--fit``), and precision and recall of "met" and of "off topic" are reported on the second, the
held-out half, for the thresholds in use (``meaning.DEFAULT``) and for the word matcher alone.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from assistant.config import PROJECT_ROOT
from assistant.evaluation.meaning import (
    DEFAULT,
    Embed,
    Thresholds,
    decide,
    judge_points,
    reply_sentences,
    similarity_to_question,
)

LABELS = PROJECT_ROOT / "evals" / "keypoint_labels.yaml"


class LabelledPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    point: str
    met: bool


class LabelledReply(BaseModel):
    """One graded reply: its key points with the reviewer's verdict, and the sentences judged off the question."""

    model_config = ConfigDict(extra="forbid")

    case: str
    question: str
    reply: str
    points: list[LabelledPoint] = Field(default_factory=list)
    off_topic: list[int] = Field(default_factory=list, description="1-based numbers among reply_sentences(reply).")


@dataclass(frozen=True)
class Agreement:
    """Precision and recall of a check's positive verdicts against the labels."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def accuracy(self) -> float:
        total = self.tp + self.fp + self.fn + self.tn
        return (self.tp + self.tn) / total if total else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self, name: str) -> str:
        return (f"{name}: precision {self.precision:.2f}, recall {self.recall:.2f}, accuracy {self.accuracy:.2f} "
                f"(tp {self.tp}, fp {self.fp}, fn {self.fn}, tn {self.tn})")


def agreement(predicted: list[bool], truth: list[bool]) -> Agreement:
    pairs = list(zip(predicted, truth, strict=True))
    return Agreement(tp=sum(p and t for p, t in pairs), fp=sum(p and not t for p, t in pairs),
                     fn=sum(t and not p for p, t in pairs), tn=sum(not p and not t for p, t in pairs))


def load_labels(path: Path = LABELS) -> list[LabelledReply]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [LabelledReply.model_validate(item) for item in data["replies"]]


def held_out(case: str) -> bool:
    """The fixed half of the cases that thresholds are never chosen on."""
    return hashlib.sha256(case.encode("utf-8")).digest()[0] % 2 == 1


@dataclass(frozen=True)
class PointRow:
    case: str
    met: bool
    similarity: float
    word_share: float


@dataclass(frozen=True)
class SentenceRow:
    case: str
    off_topic: bool
    similarity: float


def point_rows(replies: list[LabelledReply], embed: Embed) -> list[PointRow]:
    rows = []
    for r in replies:
        verdicts = judge_points([p.point for p in r.points], reply_sentences(r.reply), embed)
        rows += [PointRow(r.case, p.met, v.similarity, v.word_share) for p, v in zip(r.points, verdicts, strict=True)]
    return rows


def sentence_rows(replies: list[LabelledReply], embed: Embed) -> list[SentenceRow]:
    rows = []
    for r in replies:
        sims = similarity_to_question(r.question, reply_sentences(r.reply), embed)
        rows += [SentenceRow(r.case, i + 1 in r.off_topic, s) for i, s in enumerate(sims)]
    return rows


def fit(points: list[PointRow], sentences: list[SentenceRow]) -> Thresholds:
    """The thresholds with the best accuracy on ``points`` and ``sentences`` (the calibration half)."""
    grid = [round(float(x), 2) for x in np.arange(0.3, 0.9, 0.02)]
    truth = [p.met for p in points]
    best: tuple[float, Thresholds] = (-1.0, DEFAULT)
    for alone, with_words, share in itertools.product(grid, grid, (0.4, 0.5, 0.6, 0.7, 0.8, 1.01)):
        if with_words > alone:
            continue
        limits = Thresholds(alone=alone, with_words=with_words, words=share)
        score = agreement([decide(p.similarity, p.word_share, limits) for p in points], truth).accuracy
        if score > best[0]:
            best = (score, limits)
    off_truth = [s.off_topic for s in sentences]
    off = max(grid, key=lambda t: agreement([s.similarity < t for s in sentences], off_truth).accuracy)
    found = best[1]
    return Thresholds(alone=found.alone, with_words=found.with_words, words=found.words, off_topic=off)


def report(points: list[PointRow], sentences: list[SentenceRow], limits: Thresholds) -> list[str]:
    truth = [p.met for p in points]
    words_only = agreement([p.word_share >= limits.words for p in points], truth)
    lines = [f"{len(points)} key point verdicts ({sum(truth)} met by the reviewers), "
             f"{len(sentences)} sentences ({sum(s.off_topic for s in sentences)} off topic)",
             agreement([decide(p.similarity, p.word_share, limits) for p in points], truth).line("met by meaning"),
             words_only.line(f"met by words alone (share >= {limits.words:.2f})"),
             agreement([s.similarity < limits.off_topic for s in sentences],
                       [s.off_topic for s in sentences]).line("off topic")]
    return lines


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv and not argv[0].startswith("--") else LABELS
    from assistant.config import EmbeddingSettings
    from assistant.providers.embeddings import LocalEmbeddings

    model = LocalEmbeddings(EmbeddingSettings())

    def embed(texts: list[str]) -> Any:
        return np.asarray(model.embed_documents(texts), dtype=np.float32).reshape(len(texts), -1)

    replies = load_labels(path)
    points, sentences = point_rows(replies, embed), sentence_rows(replies, embed)
    train_p = [p for p in points if not held_out(p.case)]
    train_s = [s for s in sentences if not held_out(s.case)]
    test_p = [p for p in points if held_out(p.case)]
    test_s = [s for s in sentences if held_out(s.case)]
    if "--fit" in argv:
        print(f"fitted on the calibration half: {fit(train_p, train_s)}")
    print(f"thresholds in use: {DEFAULT}")
    print("held-out half:")
    for line in report(test_p, test_s, DEFAULT):
        print("  " + line)
    print("calibration half:")
    for line in report(train_p, train_s, DEFAULT):
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
