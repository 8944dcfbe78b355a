"""Per-question options (top-k, metadata filters, extractive override) and document management on the service."""

from __future__ import annotations

from pathlib import Path

from assistant import Assistant
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.fakes import RecordingChatModel
from assistant.schema import AskOptions
from tests.conftest import make_settings

QUESTION = "Why does the front of my knee hurt on stairs?"


def test_top_k_bounds_the_chunks_given_to_the_composer(corpus_assistant: Assistant) -> None:
    narrow = corpus_assistant.ask(QUESTION, options=AskOptions(top_k=2))
    wide = corpus_assistant.ask(QUESTION, options=AskOptions(top_k=9))
    assert narrow.behavior == wide.behavior == "answer"
    assert len(narrow.candidates) == 2
    assert len(wide.candidates) == 9
    assert {c.doc_id for c in narrow.citations} <= {c.doc_id for c in narrow.candidates}


def test_where_filter_keeps_only_matching_documents(corpus_assistant: Assistant) -> None:
    answer = corpus_assistant.ask(QUESTION, options=AskOptions(where={"doc_id": "it-band-syndrome"}))
    assert answer.candidates, answer.decisions
    assert {c.doc_id for c in answer.candidates} == {"it-band-syndrome"}
    assert {c.doc_id for c in answer.citations} == {"it-band-syndrome"}


def test_where_filter_matching_nothing_says_no_information(corpus_assistant: Assistant) -> None:
    answer = corpus_assistant.ask(QUESTION, options=AskOptions(where={"kind": "no-such-kind"}))
    assert answer.behavior == "no_information"
    assert answer.candidates == []
    assert answer.referral


def test_extractive_option_bypasses_a_configured_llm(
    tmp_path: Path, embeddings: LocalEmbeddings, articles: Path
) -> None:
    from assistant.container import build_assistant

    model = RecordingChatModel(script=lambda messages: "Kneecap pain is common [1].")
    bot = build_assistant(make_settings(tmp_path / "data", articles), embeddings=embeddings, chat_model=model)
    assert bot.ingest([articles]).ok
    assert bot.has_llm
    answer = bot.ask("What is patellofemoral pain?", options=AskOptions(extractive=True))
    assert answer.behavior == "answer"
    assert model.calls == []  # the model was never called
    assert not any(d.stage == "llm" for d in answer.decisions)
    bot.ask("What is patellofemoral pain?")
    assert len(model.calls) >= 1


def test_documents_list_and_delete(assistant: Assistant) -> None:
    docs = {d["doc_id"]: d for d in assistant.documents()}
    assert set(docs) == {"kneecap-pain", "outer-knee", "plain-note"}
    assert docs["plain-note"]["kind"] == "unreviewed-upload"
    assert docs["kneecap-pain"]["kind"] == "article"
    assert all(int(str(d["chunks"])) > 0 for d in docs.values())
    removed = assistant.delete_document("outer-knee")
    assert removed == docs["outer-knee"]["chunks"]
    assert {d["doc_id"] for d in assistant.documents()} == {"kneecap-pain", "plain-note"}
    assert assistant.verify_index() == []
    answer = assistant.ask("Why does the outside of my knee hurt when running?")
    assert "outer-knee" not in {c.doc_id for c in answer.candidates}
    assert assistant.delete_document("outer-knee") == 0


def test_cli_ask_takes_top_k_and_filters(assistant: Assistant) -> None:
    import json

    from typer.testing import CliRunner

    from assistant.cli import app
    from assistant.errors import InputError

    data = str(assistant.settings.paths.data_dir)
    question = "Why does my kneecap hurt on stairs?"
    args = ["ask", question, "--data-dir", data, "--json", "--top-k", "1", "--where", "kind=article"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["behavior"] == "answer", answer["decisions"]
    assert len(answer["candidates"]) == 1
    assert answer["candidates"][0]["doc_id"] in {"kneecap-pain", "outer-knee"}  # plain-note is an upload
    bad = CliRunner().invoke(app, ["ask", "Why does my knee hurt?", "--data-dir", data, "--where", "kind"])
    assert bad.exit_code != 0
    assert isinstance(bad.exception, InputError)  # main() prints it as one line with exit code 2
    assert "--where expects KEY=VALUE" in str(bad.exception)
