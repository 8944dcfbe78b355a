"""Client-server mode against a real `chroma run` server started on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import build_assistant
from assistant.providers.embeddings import LocalEmbeddings
from tests.chroma_servers import chroma_server as running_chroma
from tests.conftest import make_settings


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    with running_chroma(tmp_path / "server") as (url, _):
        yield url


def test_ingest_and_ask_through_a_chroma_server(chroma_server: str, tmp_path: Path, articles: Path,
                                                embeddings: LocalEmbeddings) -> None:
    settings = make_settings(tmp_path / "data", articles)
    settings.store.url = chroma_server
    bot = build_assistant(settings, embeddings=embeddings)
    report = bot.ingest([articles])
    assert sorted(report.added) == ["kneecap-pain", "outer-knee", "plain-note"]
    answer = bot.ask("What helps kneecap pain?")
    assert answer.behavior == "answer" and answer.citations
    assert not (tmp_path / "data" / "chroma" / "chroma.sqlite3").exists(), "nothing may be stored locally"
    again = build_assistant(settings, embeddings=embeddings).ingest([articles])
    assert again.chunks_written == 0 and len(again.unchanged) == 3


def test_the_keyword_index_follows_writes_by_another_process(chroma_server: str, tmp_path: Path, articles: Path,
                                                             embeddings: LocalEmbeddings,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 23: in server mode a document deleted by a CLI run kept its keyword-index slot in the running app."""
    import assistant.rag.service as service

    monkeypatch.setattr(service, "SERVER_CHECK_S", 0.0)
    settings = make_settings(tmp_path / "data", articles)
    settings.store.url = chroma_server
    app = build_assistant(settings, embeddings=embeddings)
    assert app.ingest([articles]).ok
    question = "What causes pain on the outside of the knee?"
    assert "outer-knee" in {c.doc_id for c in app.ask(question).candidates}
    cli = build_assistant(settings, embeddings=embeddings)  # another process, as `knee-assistant` would be
    assert cli.delete_document("outer-knee") > 0
    assert "outer-knee" not in {c.doc_id for c in app.ask(question).candidates}
    assert app.ask(question).candidates  # the rest still answers


def test_a_server_index_from_another_model_names_the_server_fix(chroma_server: str, tmp_path: Path, articles: Path,
                                                                embeddings: LocalEmbeddings) -> None:
    """Issue 23: in server mode the version message advised `index rebuild`, which cannot rebuild a server's index."""
    from urllib.parse import urlparse

    import chromadb

    from assistant.errors import IndexNotReady

    settings = make_settings(tmp_path / "data", articles)
    settings.store.url = chroma_server
    assert build_assistant(settings, embeddings=embeddings).ingest([articles]).ok
    where = urlparse(chroma_server)
    raw = chromadb.HttpClient(host=where.hostname or "", port=where.port or 8000).get_collection(
        settings.store.collection)
    raw.modify(metadata={**{k: v for k, v in (raw.metadata or {}).items() if not k.startswith("hnsw:")},
                         "built_with_embedding_model": "another-model"})
    with pytest.raises(IndexNotReady, match=r"set a new store\.collection") as error:
        build_assistant(settings, embeddings=embeddings).ask("What helps kneecap pain?")
    assert "index rebuild" not in str(error.value)
