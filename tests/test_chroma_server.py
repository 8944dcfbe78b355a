"""Client-server mode against a real `chroma run` server started on loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import build_assistant
from assistant.providers.embeddings import LocalEmbeddings
from tests.conftest import free_port, make_settings


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert exe, "the chromadb package ships the `chroma` command"
    port = free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("chroma server did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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
