"""Ingestion with a real Chroma store: idempotent, updates replace, bad files fail alone."""

from __future__ import annotations

from pathlib import Path

from assistant import Assistant
from assistant.ingest.load import load
from assistant.ingest.split import split_document, split_sentences


def test_reingest_of_unchanged_files_writes_nothing(assistant: Assistant, articles: Path) -> None:
    before = assistant.index_status()
    report = assistant.ingest([articles])
    assert report.chunks_written == 0
    assert sorted(report.unchanged) == ["kneecap-pain", "outer-knee", "plain-note"]
    assert assistant.index_status()["chunks"] == before["chunks"]


def test_changed_file_replaces_its_chunks(assistant: Assistant, articles: Path) -> None:
    path = articles / "outer-knee.md"
    path.write_text(path.read_text().replace("longer runs", "long downhill runs"), encoding="utf-8")
    report = assistant.ingest([articles])
    assert report.updated == ["outer-knee"]
    ans = assistant.ask("Why does the outer side of my knee hurt on long downhill runs?")
    quotes = " ".join(c.quote for c in ans.citations)
    assert "long downhill runs" in quotes and "during longer runs" not in quotes


def test_missing_file_is_reported_then_pruned(assistant: Assistant, articles: Path) -> None:
    (articles / "plain-note.txt").unlink()
    report = assistant.ingest([articles])
    assert report.missing == ["plain-note"]
    report = assistant.ingest([articles], prune=True)
    assert report.removed == ["plain-note"]
    assert "plain-note" not in assistant.index_status()["doc_ids"]  # type: ignore[operator]


def test_bad_files_fail_alone_with_a_reason(assistant: Assistant, articles: Path) -> None:
    (articles / "empty.md").write_text("", encoding="utf-8")
    (articles / "photo.md").write_bytes(b"\x89PNG\x00\x00binary")
    (articles / "broken.md").write_text("---\nid: broken\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    (articles / "data.csv").write_text("a,b\n", encoding="utf-8")
    report = assistant.ingest([articles])
    assert set(report.failed) == {str(articles / n) for n in ("empty.md", "photo.md", "broken.md", "data.csv")}
    assert "empty" in report.failed[str(articles / "empty.md")]
    assert "binary" in report.failed[str(articles / "photo.md")]
    assert "YAML" in report.failed[str(articles / "broken.md")]
    assert "unsupported" in report.failed[str(articles / "data.csv")]
    assert sorted(report.unchanged) == ["kneecap-pain", "outer-knee", "plain-note"]


def test_chunks_are_heading_aware_with_exact_sentence_offsets(articles: Path) -> None:
    doc = load(articles / "kneecap-pain.md")
    chunks = split_document(doc)
    assert [c.section for c in chunks] == ["Kneecap pain in runners", "What helps kneecap pain?",
                                           "When to see a professional"]
    for chunk in chunks:
        assert chunk.text in doc.body
        for s in chunk.sentences:
            assert chunk.text[s.start : s.end] == s.text
    assert chunks == split_document(load(articles / "kneecap-pain.md")), "chunk ids must be stable"


def test_sentence_splitter_keeps_markers_and_abbreviations() -> None:
    text = "Pain rises on stairs, e.g. going down [S02]. Dr. Smith agrees. It eases with rest!"
    assert [s.text for s in split_sentences(text)] == [
        "Pain rises on stairs, e.g. going down [S02].", "Dr. Smith agrees.", "It eases with rest!",
    ]


def test_plain_text_gets_title_from_its_first_line(articles: Path) -> None:
    doc = load(articles / "plain-note.txt")
    assert doc.doc_id == "plain-note" and doc.meta is None
    assert doc.title == "plain note"
