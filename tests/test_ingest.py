"""Ingestion with a real Chroma store: idempotent, updates replace, bad files fail alone."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from assistant import Assistant
from assistant.ingest.load import Document, discover, load
from assistant.ingest.split import TokenBudget, context, split_document, split_sentences
from assistant.providers.embeddings import LocalEmbeddings

ROOT = Path(__file__).resolve().parent.parent


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


def test_no_chunk_of_the_corpus_exceeds_the_model_input(embeddings: LocalEmbeddings) -> None:
    budget = TokenBudget.for_model(embeddings)
    for path in discover([ROOT / "corpus"]):
        doc = load(path)
        chunks = split_document(doc, budget)
        embedded = [context(doc.title, c.section, c.text) for c in chunks]
        assert max(embeddings.count_tokens(embedded)) <= embeddings.max_seq_length == 256, path.name
        assert max(embeddings.count_tokens([c.text for c in chunks], special=False)) <= budget.chunk_tokens


def _pdf_page(body: str) -> Document:
    return Document(doc_id="scan", path=Path("scan.pdf"), title="Scan", body="## Page 1\n" + body, meta=None,
                    content_hash="0" * 16, extra={"format": "pdf"})


def test_pdf_text_without_punctuation_is_cut_to_fit_the_model(embeddings: LocalEmbeddings) -> None:
    budget = TokenBudget.for_model(embeddings)
    lines = "\n".join(f"line {i} of the knee report without any full stop in sight" for i in range(300))
    endless = " ".join(["patellofemoral"] * 400) + " " + "x" * 900
    for doc in (_pdf_page(lines), _pdf_page(endless)):
        chunks = split_document(doc, budget)
        assert len(chunks) > 1
        sentences = [s.text for c in chunks for s in c.sentences]
        assert max(embeddings.count_tokens(sentences, special=False)) <= budget.sentence_tokens
        assert max(embeddings.count_tokens([context(doc.title, c.section, c.text) for c in chunks])) <= 256
        for chunk in chunks:
            assert all(chunk.text[s.start : s.end] == s.text for s in chunk.sentences)
    pieces = split_sentences(lines, budget)
    assert len(pieces) > 1 and all(lines[: lines.index(p.text)].endswith("\n") for p in pieces[1:]), "cut at lines"


def test_overlap_repeats_the_last_sentence_of_a_split_section(embeddings: LocalEmbeddings) -> None:
    body = " ".join(f"Sentence {i} says the knee needs a gradual return to running over weeks." for i in range(40))
    doc = _pdf_page(body)
    plain = split_document(doc, TokenBudget.for_model(embeddings))
    overlapped = split_document(doc, TokenBudget.for_model(embeddings, overlap_tokens=32))
    assert len(plain) > 1 and plain[1].sentences[0].text != plain[0].sentences[-1].text
    for before, after in pairwise(overlapped):
        ends = [s.text for s in before.sentences]
        repeated = ends[ends.index(after.sentences[0].text) :]  # the tail of the previous chunk...
        assert repeated and [s.text for s in after.sentences[: len(repeated)]] == repeated
        assert sum(embeddings.count_tokens(repeated, special=False)) <= 32  # ...within overlap_tokens
    assert overlapped == split_document(doc, TokenBudget.for_model(embeddings, overlap_tokens=32))
