"""Question variants in front matter: stored with their section's first chunk, matched by meaning at retrieval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, build_assistant
from assistant.ingest.backup import export_index, import_index
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.packed import QUESTION_VECTORS, QUESTIONS, pack, questions_of, unpack
from tests.conftest import make_settings

# The text never says "flared up" or "compression sleeve"; only the variants do.
ARTICLE = """---
id: sleeves
title: "Knee supports"
summary: "A short test article about supports and taping."
topics: [bracing]
audience: [runners]
sources:
  - id: S02
    title: "Patellofemoral Pain: Clinical Practice Guidelines"
    authors: "Willy RW, et al."
    year: 2019
    doi: "10.2519/jospt.2019.0302"
    kind: guideline
evidence: "Guideline"
last_reviewed: 2026-12-02
reviewed_by: unreviewed
licence: "CC BY 4.0"
questions:
  "Do knee braces help?":
    - "would wearing a compression sleeve stop my knee flaring up"
    - "neoprene sleeve for a sore knee worth buying?"
    - "my knee flared up again, should I run in a sleeve"
---
# Knee supports

## Do knee braces help?

Guidelines do not recommend braces as a treatment on their own for pain around the kneecap [S02].

## Does kinesiology tape work?

Kinesiology tape showed no lasting benefit over sham taping in trials of kneecap pain [S02].

## When to see a professional

A physiotherapist can check how the kneecap moves.
"""


@pytest.fixture
def sleeves(tmp_path: Path, embeddings: LocalEmbeddings) -> tuple[Assistant, Path]:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "sleeves.md").write_text(ARTICLE)
    bot = build_assistant(make_settings(tmp_path / "data", folder), embeddings=embeddings)
    assert bot.ingest([folder]).ok
    return bot, folder


def _first_chunk(bot: Assistant, heading: str) -> dict[str, object]:
    chunks = [c for c in bot._store.all_chunks() if c.metadata["section"] == heading]
    return min(chunks, key=lambda c: int(c.metadata["position"])).metadata


def test_the_section_carries_its_heading_and_variants_with_their_vectors(
    sleeves: tuple[Assistant, Path], embeddings: LocalEmbeddings
) -> None:
    bot, _ = sleeves
    meta = _first_chunk(bot, "Do knee braces help?")
    asked = questions_of(meta)
    assert asked[0] == "Do knee braces help?" and len(asked) == 4
    stored = unpack(str(meta[QUESTION_VECTORS]), embeddings.dimension)
    fresh = embeddings.encode(asked)
    assert stored.shape == fresh.shape
    assert np.allclose(stored, fresh, atol=2e-3)  # half precision
    # A question heading without variants still counts as one question; a plain heading has none.
    assert questions_of(_first_chunk(bot, "Does kinesiology tape work?")) == ["Does kinesiology tape work?"]
    assert QUESTIONS not in _first_chunk(bot, "When to see a professional")


def test_a_question_worded_like_a_variant_finds_its_section_through_it(sleeves: tuple[Assistant, Path]) -> None:
    bot, _ = sleeves
    answer = bot.ask("My knee keeps flaring up. Should I buy a compression sleeve to run in?")
    top = answer.candidates[0]
    assert top.section == "Do knee braces help?"
    assert top.question is not None and top.question >= bot.settings.retrieval.question_min_similarity
    assert all(c.question is None for c in answer.candidates if c.section == "When to see a professional")


def test_without_the_question_ranking_no_question_score_is_given(
    tmp_path: Path, sleeves: tuple[Assistant, Path], embeddings: LocalEmbeddings
) -> None:
    _, folder = sleeves
    settings = make_settings(tmp_path / "data", folder)
    settings.retrieval.question_weight = 0.0
    bot = build_assistant(settings, embeddings=embeddings)
    answer = bot.ask("My knee keeps flaring up. Should I buy a compression sleeve to run in?")
    assert answer.candidates and all(c.question is None for c in answer.candidates)


def test_changing_only_the_variants_re_embeds_the_section(sleeves: tuple[Assistant, Path],
                                                          embeddings: LocalEmbeddings) -> None:
    bot, folder = sleeves
    before = _first_chunk(bot, "Do knee braces help?")
    path = folder / "sleeves.md"
    path.write_text(path.read_text().replace("neoprene sleeve for a sore knee worth buying?",
                                             "is a hinged brace better than tape"))
    report = bot.ingest([folder])
    assert report.updated == ["sleeves"]
    after = _first_chunk(bot, "Do knee braces help?")
    assert "is a hinged brace better than tape" in questions_of(after)
    assert after[QUESTION_VECTORS] != before[QUESTION_VECTORS]
    stored = unpack(str(after[QUESTION_VECTORS]), embeddings.dimension)
    assert np.allclose(stored, embeddings.encode(questions_of(after)), atol=2e-3)
    # the section without variants kept its chunk (same text, same heading)
    assert bot._store.count() == 3


def test_a_backup_restores_the_question_vectors(sleeves: tuple[Assistant, Path], tmp_path: Path,
                                                embeddings: LocalEmbeddings) -> None:
    bot, folder = sleeves
    out = tmp_path / "backup.jsonl"
    export_index(bot.settings, embeddings, out)
    other = make_settings(tmp_path / "restored", folder)
    import_index(other, embeddings, out)
    restored = build_assistant(other, embeddings=embeddings)
    assert _first_chunk(restored, "Do knee braces help?")[QUESTION_VECTORS] == \
        _first_chunk(bot, "Do knee braces help?")[QUESTION_VECTORS]
    assert restored.ask("should I run in a compression sleeve when my knee flares up").candidates[0].question


def test_packed_vectors_round_trip_and_reject_damaged_text() -> None:
    rows = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    assert np.allclose(unpack(pack(rows), 8), rows, atol=1e-3)
    assert unpack(pack(rows)[:-4], 8).shape == (0, 8)  # cut short
    assert unpack("not base64 at all!", 8).shape == (0, 8)
    assert questions_of({QUESTIONS: json.dumps(["a?", "b"])}) == ["a?", "b"]
    assert questions_of({QUESTIONS: "{broken"}) == [] and questions_of({}) == []
