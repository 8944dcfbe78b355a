"""Concurrent writers: the app ingesting an upload (``Assistant.ingest``, as the staff upload does) while the CLI
ingests in another process. One waits or gets a clear message within 5 s; nothing hangs, nothing is lost, and the
index stays consistent for both processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from assistant.errors import IndexBusy
from assistant.providers.embeddings import LocalEmbeddings
from benchmarks.kill_ingest import small_corpus
from tests.cli_children import Child, run_cli, start_cli

LOCK_WAIT_S = 5.0
MARGIN_S = 1.5  # scheduling slack on a busy 2-core machine
CLI_ARTICLES = ["who-to-see", "osgood-schlatter"]
UPLOAD = """# Cadence notes from the club

Raising step rate by a few percent shortens each stride and lowers the load on the kneecap.
Runners who try a metronome app usually settle on a new cadence within a few weeks.
"""


@pytest.fixture
def cli_corpus(tmp_path: Path) -> Path:
    """Short copies of two corpus articles (the CLI's share of the work)."""
    return small_corpus(tmp_path / "cli-corpus", CLI_ARTICLES, words=80)


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    target = tmp_path / "uploads" / "cadence-notes.md"
    target.parent.mkdir()
    target.write_text(UPLOAD, encoding="utf-8")
    return target


def _verify_in_new_process(settings: Settings, out: Path) -> None:
    """`index verify` in a new process: it opens the index (probing its vectors) and checks it is consistent."""
    result = run_cli(["index", "verify", "--data-dir", str(settings.paths.data_dir)], out / "verify")
    assert (result.code, result.stdout.strip()) == (0, "index OK"), result.stderr


def _self_retrieval(bot: Assistant) -> int:
    """Chunks the dense index cannot find by their own vector (a damaged or stale vector index)."""
    store = bot._store  # the test reaches in to query every stored vector
    got = store._chunks.get(include=["embeddings"])
    found = store._chunks.query(query_embeddings=got["embeddings"], n_results=1, include=["distances"])
    return sum(1 for ids, cid in zip(found["ids"], got["ids"], strict=True) if ids[0] != cid)


def test_cli_told_within_five_seconds_while_the_app_ingests(
    assistant: Assistant, settings: Settings, embeddings: LocalEmbeddings, cli_corpus: Path, upload: Path,
    tmp_path: Path,
) -> None:
    data = str(settings.paths.data_dir)
    cli: list[Child] = []

    def hold_until_cli_ends(files: Iterable[Path]) -> Iterator[Path]:
        # Called under the app's writer lock: start the CLI and keep the lock until the CLI has given up.
        cli.append(start_cli(["ingest", str(cli_corpus), "--data-dir", data], tmp_path / "cli", report=True))
        cli[0].process.join(120)
        yield from files

    report = assistant.ingest([upload], progress=hold_until_cli_ends)
    assert report.added == ["cadence-notes"]
    child = cli[0]
    result = child.result(5)
    events = []
    while (event := child.next_event(0.1)) is not None:
        events.append(event)
    index_lock = [e for e in events if e[0] == "lock" and e[2].endswith("index.lock")]
    waited = [e for e in index_lock if e[1] == "wait"]
    busy = [e for e in index_lock if e[1] == "busy"]
    assert waited and busy, events
    assert LOCK_WAIT_S - 0.5 <= busy[0][3] - waited[0][3] <= LOCK_WAIT_S + MARGIN_S
    assert result.code == 2, (result.stdout, result.stderr)
    assert "error: another ingestion is writing to the index" in result.stderr
    assert "Traceback" not in result.stderr
    assert not [e for e in events if e[0] == "write"], "the refused CLI wrote nothing"
    _verify_in_new_process(settings, tmp_path)
    assert {d["doc_id"] for d in assistant.documents()} == {"kneecap-pain", "outer-knee", "plain-note",
                                                            "cadence-notes"}


def test_app_upload_waits_or_is_told_while_the_cli_ingests_and_nothing_is_lost(
    assistant: Assistant, settings: Settings, embeddings: LocalEmbeddings, cli_corpus: Path, upload: Path,
    tmp_path: Path,
) -> None:
    data = str(settings.paths.data_dir)
    before = assistant.ask("What helps kneecap pain?")  # the app has served from its index
    assert before.behavior == "answer"
    child = start_cli(["ingest", str(cli_corpus), "--data-dir", data], tmp_path / "cli", report=True)
    assert child.wait_for(lambda e: e[:2] == ("lock", "held"), 120), child.output()
    start = time.monotonic()
    try:
        report = assistant.ingest([upload])
        outcome = "waited"
    except IndexBusy as exc:
        outcome = "told"
        assert "another ingestion is writing to the index" in str(exc)
    waited = time.monotonic() - start
    assert waited <= LOCK_WAIT_S + MARGIN_S + 10, f"the app's upload took {waited:.1f} s ({outcome})"
    result = child.result(120)
    assert result.code == 0, result.stderr
    if outcome == "told":
        assert waited <= LOCK_WAIT_S + MARGIN_S
        report = assistant.ingest([upload])  # the staff member tries again once the CLI is done
    assert report.added == ["cadence-notes"]
    # the app sees the CLI's documents and its own, and so does a new process
    assert _self_retrieval(assistant) == 0
    docs = {d["doc_id"] for d in assistant.documents()}
    assert docs == {"kneecap-pain", "outer-knee", "plain-note", "cadence-notes", *CLI_ARTICLES}
    answer = assistant.ask("What does Osgood-Schlatter disease feel like?")
    assert any(c.doc_id == "osgood-schlatter" for c in answer.citations), answer.citations
    assert assistant.verify_index() == []
    _verify_in_new_process(settings, tmp_path)


def test_two_app_uploads_at_once_serialise(assistant: Assistant, upload: Path, tmp_path: Path) -> None:
    second = tmp_path / "uploads" / "stairs-notes.md"
    second.write_text("# Stairs notes\n\nTaking stairs one at a time eases a sore kneecap for a while.\n",
                      encoding="utf-8")
    results: dict[str, object] = {}

    def ingest(path: Path) -> None:
        try:
            results[path.stem] = assistant.ingest([path]).added
        except IndexBusy as exc:
            results[path.stem] = exc

    threads = [threading.Thread(target=ingest, args=(p,)) for p in (upload, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LOCK_WAIT_S * 4)
    assert not any(t.is_alive() for t in threads), "an upload hung"
    assert results == {"cadence-notes": ["cadence-notes"], "stairs-notes": ["stairs-notes"]}
    assert assistant.verify_index() == []


def test_app_answers_from_the_current_index_after_the_cli_changes_it(
    assistant: Assistant, settings: Settings, articles: Path, tmp_path: Path,
) -> None:
    question = "What helps kneecap pain?"
    assert any("Exercise therapy" in c.quote for c in assistant.ask(question).citations)
    page = articles / "kneecap-pain.md"
    page.write_text(page.read_text(encoding="utf-8").replace("Exercise therapy that strengthens",
                                                             "Physiotherapist-led exercise that strengthens"),
                    encoding="utf-8")
    (articles / "outer-knee.md").unlink()
    result = run_cli(["ingest", str(articles), "--prune", "--data-dir", str(settings.paths.data_dir)],
                     tmp_path / "cli")
    assert result.code == 0, result.stderr
    answer = assistant.ask(question)
    current = {p.stem: p.read_text(encoding="utf-8") for p in articles.iterdir()}
    assert answer.citations
    for c in answer.citations:
        assert c.doc_id in current and c.quote in current[c.doc_id], c.quote
    assert {d["doc_id"] for d in assistant.documents()} == {"kneecap-pain", "plain-note"}
    outer = assistant.ask("Why does the outside of my knee hurt on long runs?")
    assert all(c.doc_id != "outer-knee" for c in outer.citations)
    assert not assistant.follow_index_swap(), "answering alone does not make the app reopen the index again"
