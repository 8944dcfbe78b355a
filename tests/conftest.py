"""Shared fixtures: network guard, the real embedding model, real Chroma stores in tmp dirs, assistants."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from assistant import Assistant, Settings, build_assistant, load_settings
from assistant.config import EmbeddingSettings
from assistant.providers.embeddings import LocalEmbeddings

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_ARTICLES = Path(__file__).parent / "fixtures" / "articles"
LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")


def _loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    return isinstance(host, str) and host.startswith(LOOPBACK)


@pytest.fixture(autouse=True, scope="session")
def no_network() -> Iterator[None]:
    """Fail any test that opens a connection to anything but this machine."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    def guarded_ex(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect_ex(self, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def embeddings() -> LocalEmbeddings:
    return LocalEmbeddings(EmbeddingSettings())


def free_port() -> int:
    """A port nothing listens on yet, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(data_dir: Path, corpus_dir: Path = FIXTURE_ARTICLES) -> Settings:
    return load_settings(paths={"data_dir": data_dir, "corpus_dir": corpus_dir, "prompts_dir": ROOT / "prompts"})


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """A private copy of the fixture articles a test may edit."""
    target = tmp_path / "articles"
    shutil.copytree(FIXTURE_ARTICLES, target)
    return target


@pytest.fixture
def settings(tmp_path: Path, articles: Path) -> Settings:
    return make_settings(tmp_path / "data", articles)


@pytest.fixture
def assistant(settings: Settings, embeddings: LocalEmbeddings, articles: Path) -> Assistant:
    bot = build_assistant(settings, embeddings=embeddings)
    report = bot.ingest([articles])
    assert report.ok, report.failed
    return bot


@pytest.fixture(scope="session")
def corpus_assistant(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Assistant:
    """The assistant over the real corpus/ (ingested once per test session)."""
    settings = make_settings(tmp_path_factory.mktemp("corpus-index"), ROOT / "corpus")
    bot = build_assistant(settings, embeddings=embeddings)
    report = bot.ingest([ROOT / "corpus"])
    assert report.ok, report.failed
    return bot
