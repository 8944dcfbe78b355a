"""Follow-ups with an LLM: the condense-question prompt from prompts/llm.yaml rewrites the retrieval query."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import BaseMessage

from assistant import Answer, AskOptions, Assistant, build_assistant
from assistant.errors import BackendUnavailable
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.fakes import RecordingChatModel
from tests.conftest import make_settings

HISTORY = [("user", "Why does my kneecap ache on stairs?"), ("assistant", "Kneecap pain is common in runners.")]
FOLLOW_UP = "what about the outside of the knee?"
CONDENSED = "Why does the outside of the knee hurt when running?"


def _reply(messages: list[BaseMessage]) -> str:
    text = "\n".join(str(m.content) for m in messages)
    if "standalone question" in text:
        return CONDENSED
    return "Pain on the outside of the knee in runners is often the iliotibial band [1]."


def _decisions(answer: Answer, outcome: str) -> list[str]:
    return [d.reason for d in answer.decisions if d.stage == "query" and d.outcome == outcome]


def _bot(tmp_path: Path, embeddings: LocalEmbeddings, articles: Path, model: RecordingChatModel) -> Assistant:
    bot = build_assistant(make_settings(tmp_path / "data", articles), embeddings=embeddings, chat_model=model)
    assert bot.ingest([articles]).ok
    return bot


def test_follow_up_is_condensed_by_the_llm(tmp_path: Path, embeddings: LocalEmbeddings, articles: Path) -> None:
    model = RecordingChatModel(script=_reply)
    answer = _bot(tmp_path, embeddings, articles, model).ask(FOLLOW_UP, history=HISTORY)
    condense_prompt = "\n".join(str(m.content) for m in model.calls[0])
    assert "standalone question" in condense_prompt
    assert "Why does my kneecap ache on stairs?" in condense_prompt  # the conversation is in the prompt
    assert f"Last message: {FOLLOW_UP}" in condense_prompt
    assert answer.query == CONDENSED
    assert _decisions(answer, "condensed")
    assert answer.candidates[0].doc_id == "outer-knee"


def test_first_question_is_not_condensed(tmp_path: Path, embeddings: LocalEmbeddings, articles: Path) -> None:
    model = RecordingChatModel(script=_reply)
    answer = _bot(tmp_path, embeddings, articles, model).ask("Why does my kneecap ache on stairs?")
    assert all("standalone question" not in str(m.content) for call in model.calls for m in call)
    assert answer.query == "Why does my kneecap ache on stairs?"


def test_condense_failure_falls_back_to_the_history_builder(
    tmp_path: Path, embeddings: LocalEmbeddings, articles: Path
) -> None:
    model = RecordingChatModel(script=_reply, error=BackendUnavailable("server down"))
    answer = _bot(tmp_path, embeddings, articles, model).ask(FOLLOW_UP, history=HISTORY)
    assert FOLLOW_UP in answer.query and "kneecap" in answer.query  # the deterministic builder's combined query
    assert any("server down" in r for r in _decisions(answer, "fallback"))
    assert answer.referral


def test_rambling_condensation_is_not_used(tmp_path: Path, embeddings: LocalEmbeddings, articles: Path) -> None:
    model = RecordingChatModel(script=lambda messages: "word " * 200)
    answer = _bot(tmp_path, embeddings, articles, model).ask(FOLLOW_UP, history=HISTORY)
    assert "word word" not in answer.query
    assert any("unusable" in r for r in _decisions(answer, "fallback"))


def test_extractive_option_skips_the_condense_call(tmp_path: Path, embeddings: LocalEmbeddings, articles: Path) -> None:
    model = RecordingChatModel(script=_reply)
    answer = _bot(tmp_path, embeddings, articles, model).ask(
        FOLLOW_UP, history=HISTORY, options=AskOptions(extractive=True)
    )
    assert model.calls == []
    assert FOLLOW_UP in answer.query
