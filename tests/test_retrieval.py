"""Hybrid retrieval over the real corpus: documents ranked by fused evidence, capped per document."""

from __future__ import annotations

import pytest

from assistant import Assistant
from assistant.rag.retrieve import PER_DOC_CAP, PER_HEADING_CAP

QUESTIONS = {
    "Where does the iliotibial band attach around the knee?": "it-band-syndrome",
    "Does Osgood-Schlatter disease in teenagers need surgery?": "osgood-schlatter",
    "Will increasing my step rate take load off my knees?": "gait-retraining-and-step-rate",
}


@pytest.mark.parametrize(("question", "doc_id"), QUESTIONS.items())
def test_the_article_on_the_topic_ranks_first(corpus_assistant: Assistant, question: str, doc_id: str) -> None:
    answer = corpus_assistant.ask(question)
    assert answer.candidates[0].doc_id == doc_id, [c.doc_id for c in answer.candidates]


def test_candidates_are_grouped_by_document_score_and_capped(corpus_assistant: Assistant) -> None:
    answer = corpus_assistant.ask("Why does the front of my knee hurt going down stairs after a long run?")
    docs = [c.doc_id for c in answer.candidates]
    assert len(answer.candidates) == corpus_assistant.settings.retrieval.top_k
    assert max(docs.count(d) for d in docs) <= PER_DOC_CAP
    doc_scores = [c.doc_score for c in answer.candidates]
    assert all(s is not None for s in doc_scores)
    assert doc_scores == sorted(doc_scores, reverse=True)  # type: ignore[type-var]
    # a document's chunks sit together, best fused chunk first
    for i in range(1, len(docs)):
        if docs[i] != docs[i - 1]:
            assert docs[i] not in docs[:i]
        else:
            assert answer.candidates[i].score <= answer.candidates[i - 1].score


def test_both_searches_contribute(corpus_assistant: Assistant) -> None:
    # "VMO" is a rare token: BM25 finds it; the dense search ranks by meaning.
    answer = corpus_assistant.ask("Does strengthening the VMO fix kneecap tracking?")
    assert any(c.bm25 is not None for c in answer.candidates)
    assert any(c.dense is not None for c in answer.candidates)


def test_a_shared_heading_fills_at_most_its_cap(corpus_assistant: Assistant) -> None:
    # Most articles end with "When to see a professional"; without the cap those sections crowd out the red-flag guide.
    answer = corpus_assistant.ask("Should I see a professional about my sore knee, and when?")
    headings = [c.section.rsplit(">", 1)[-1].strip().lower() for c in answer.candidates]
    assert headings.count("when to see a professional") == PER_HEADING_CAP, headings


@pytest.mark.parametrize(
    "question",
    [
        "The calf below my sore knee is swollen, warm and throbbing, and it hurts more when I pull my toes up.",
        "Meine Wade unter dem schmerzenden Knie ist geschwollen, warm und tut weh.",
    ],
)
def test_red_flags_steer_retrieval_to_the_guidance_on_them(corpus_assistant: Assistant, question: str) -> None:
    answer = corpus_assistant.ask(question)
    assert answer.behavior == "urgent_referral"
    assert "red-flags-urgent-care" in [c.doc_id for c in answer.candidates], [c.doc_id for c in answer.candidates]
    assert "blood clot" in answer.query
    assert any(d.stage == "query" and d.outcome == "red_flags_added" for d in answer.decisions)
