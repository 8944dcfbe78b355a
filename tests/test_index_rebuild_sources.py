"""`index rebuild` reads every file the index was built from, not only corpus/ and the uploads, and lists what it
drops; a swap or guarded write cut short by a kill is finished at the next open."""

from __future__ import annotations

import shutil
from pathlib import Path

from assistant import Settings, build_assistant
from assistant.ingest.lifecycle import index_dir, rebuild_index, recorded_sources
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import forget_cached_client

OTHER = "# Cycling and the knee\n\nSaddle height changes how the kneecap is loaded when pedalling hard.\n"
GONE = "# Old club note\n\nA club note about hill repeats and knee pain.\n"


def test_rebuild_reads_the_recorded_sources_and_lists_what_it_drops(
    settings: Settings, embeddings: LocalEmbeddings, articles: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "cycling.md").write_text(OTHER, encoding="utf-8")
    (elsewhere / "club.md").write_text(GONE, encoding="utf-8")
    bot = build_assistant(settings, embeddings=embeddings)
    assert bot.ingest([articles]).ok and bot.ingest([elsewhere]).ok
    recorded = recorded_sources(index_dir(settings))
    assert recorded["cycling"] == str((elsewhere / "cycling.md").resolve())
    (elsewhere / "club.md").unlink()

    report = rebuild_index(settings, embeddings)

    assert "cycling" in report.added, "a document ingested from another folder survives the rebuild"
    assert set(report.dropped) == {"club"} and "is gone" in report.dropped["club"], report.dropped
    bot.follow_index_swap()
    assert {"cycling", "kneecap-pain"} <= {str(d["doc_id"]) for d in bot.documents()}


def test_a_swap_cut_between_its_two_renames_is_finished_at_the_next_open(
    settings: Settings, embeddings: LocalEmbeddings, articles: Path
) -> None:
    bot = build_assistant(settings, embeddings=embeddings)
    assert bot.ingest([articles]).ok
    bot._store.close()
    live = index_dir(settings)
    forget_cached_client(live)
    shutil.copytree(live, live.with_name("chroma.rebuild"))  # a complete rebuilt index
    live.rename(live.with_name("chroma.old"))  # killed right after the first rename

    again = build_assistant(settings, embeddings=embeddings)
    assert again.index_status()["chunks"], "the complete index was moved in, not an empty one created"
    assert not live.with_name("chroma.old").exists() and not live.with_name("chroma.rebuild").exists()
