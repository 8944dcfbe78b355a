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
