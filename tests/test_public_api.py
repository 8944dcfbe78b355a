"""The public Python API evaluators and other programs rely on."""

from __future__ import annotations

import re
from pathlib import Path

import assistant
from assistant import Answer, Assistant


def test_exported_members_are_pinned() -> None:
    assert sorted(assistant.__all__) == [
        "Answer", "AskOptions", "Assistant", "AssistantError", "Citation", "Settings", "build_assistant",
        "load_settings",
    ]


def test_ask_returns_cited_answer_whose_quotes_are_in_the_source(assistant: Assistant, articles: Path) -> None:
    ans = assistant.ask("Why does my kneecap hurt on stairs?", history=[("user", "hi"), ("assistant", "hello")])
    assert isinstance(ans, Answer)
    assert ans.behavior == "answer"
    assert ans.citations, ans.text
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", ans.body)}
    assert markers == {c.n for c in ans.citations}
    sources = {p.stem: p.read_text(encoding="utf-8") for p in articles.iterdir()}
    for c in ans.citations:
        assert c.quote in sources[c.doc_id], c.quote
    assert "stairs" in ans.text.lower()
    assert ans.referral and ans.referral in ans.text
    assert {"triage", "retrieve", "compose", "total"} <= set(ans.timings)


def test_dependent_sentence_is_quoted_with_its_antecedent(assistant: Assistant) -> None:
    ans = assistant.ask("How long does exercise therapy take to help kneecap pain?")
    for c in ans.citations:
        assert not c.quote.startswith("It usually takes"), "a sentence starting with 'It' needs its antecedent"


def test_ask_stream_yields_text_then_the_answer(assistant: Assistant) -> None:
    pieces = list(assistant.ask_stream("What helps pain on the outside of the knee?"))
    assert isinstance(pieces[-1], Answer)
    assert all(isinstance(p, str) for p in pieces[:-1]) and pieces[:-1]
    assert "".join(p for p in pieces[:-1] if isinstance(p, str)) == pieces[-1].text


def test_follow_up_question_borrows_the_earlier_subject(assistant: Assistant) -> None:
    history = [("user", "why does my outer knee hurt on long runs?"), ("assistant", "...")]
    ans = assistant.ask("what helps?", history=history)
    assert "outer knee" in ans.query
    assert ans.citations


def test_unrelated_question_gets_no_information_or_decline(assistant: Assistant) -> None:
    ans = assistant.ask("What is the best sourdough recipe?")
    assert ans.behavior == "out_of_scope"
    assert ans.referral
