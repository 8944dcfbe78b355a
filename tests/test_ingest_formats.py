"""File formats and bad input: HTML and PDF readers, text encodings, per-file limits, one-line reasons."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from assistant import Assistant
from assistant.errors import IngestError
from assistant.ingest.load import load
from assistant.ingest.pipeline import IngestPipeline
from assistant.ingest.readers import ReadLimits
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.store import ChromaStore

PAGE_1 = ["Taping the kneecap for hill runners", "Patellar taping can ease kneecap pain on long descents."]
PAGE_2 = [
    "Gradual return after taping",
    "Runners who tape the kneecap should still build hill mileage slowly over several weeks.",
    "Strong hip and thigh muscles help the kneecap track well on descents.",
]
ARTICLE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Knee clinic | Site</title>
<style>.x { color: red }</style><script>var tracking = "SCRIPT-TEXT";</script></head>
<body><header>SITE-BANNER <a href="/">Home</a></header>
<nav><ul><li><a href="/a">NAV-LINK Shop</a></li></ul></nav>
<main><article><header><h1>Foam rolling and the outer knee</h1></header>
<p>Foam rolling the outer thigh may feel good, but it does not lengthen the iliotibial band.</p>
<div hidden>HIDDEN-ATTR text</div><p style="display: none">HIDDEN-STYLE text</p>
<h2>What to do instead</h2><ul><li>Strengthen the hip abductors.</li><li>Reduce downhill running for a while.</li></ul>
<p># 1 tip: rest <b>before</b> it gets worse.</p>
</article><aside>ASIDE-PROMO</aside></main>
<footer>SITE-FOOTER</footer><noscript>NOSCRIPT-TEXT</noscript></body></html>"""


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]], info: dict[str, str] | None = None) -> bytes:
    """A minimal valid PDF with one Helvetica text line per string (written by hand, no PDF library)."""
    first_page = 4
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(len(pages)))
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        content = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"({_esc(x)}) Tj T*" for x in lines) + " ET"
        objs.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {first_page + 2 * i + 1} 0 R >>"
        )
        objs.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
    info_ref = ""
    if info:
        objs.append("<< " + " ".join(f"/{k} ({_esc(v)})" for k, v in info.items()) + " >>")
        info_ref = f" /Info {len(objs)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R{info_ref} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypt(pdf: bytes, user_password: str, algorithm: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _reason(path: Path, limits: ReadLimits | None = None) -> str:
    with pytest.raises(IngestError) as caught:
        load(path, limits)
    reason = str(caught.value)
    assert reason and "\n" not in reason and "Traceback" not in reason, reason
    return reason


# -- HTML -------------------------------------------------------------------------------------------------------


def test_html_keeps_main_content_and_headings_only(tmp_path: Path) -> None:
    path = tmp_path / "foam-rolling.html"
    path.write_text(ARTICLE, encoding="utf-8")
    doc = load(path)
    assert doc.meta is None and doc.doc_id == "foam-rolling"
    assert doc.title == "Foam rolling and the outer knee"  # first heading beats the <title>
    assert doc.extra == {"format": "html", "file": "foam-rolling.html"}
    lines = doc.body.splitlines()
    assert "# Foam rolling and the outer knee" in lines and "## What to do instead" in lines
    assert "- Strengthen the hip abductors." in lines
    assert "1 tip: rest before it gets worse." in lines, "a '# ' paragraph must not become a heading"
    for junk in ("SCRIPT", "SITE-BANNER", "NAV-LINK", "HIDDEN", "ASIDE", "SITE-FOOTER", "NOSCRIPT", "color"):
        assert junk not in doc.body


def test_html_without_headings_takes_its_title_element(tmp_path: Path) -> None:
    path = tmp_path / "note.htm"
    path.write_bytes(
        b"<html><head><title>Stair pain</title><meta charset='windows-1252'></head>"
        b"<body><p>Stairs hurt \x93a lot\x94 after runs.</p></body></html>"
    )
    doc = load(path)
    assert doc.title == "Stair pain"
    assert doc.body == "Stairs hurt \u201ca lot\u201d after runs."


def test_ten_megabyte_single_line_html_is_parsed_in_bounded_time(tmp_path: Path) -> None:
    nav = "<nav>" + "".join(f'<a href="/p{i}">Link {i}</a>' for i in range(120_000)) + "</nav>"
    script = "<script>" + "var x=1;" * 700_000 + "</script>"
    main = "<main><h1>Minified page</h1>" + "<p>Kneecap pain eases with load management.</p>" * 20_000 + "</main>"
    path = tmp_path / "minified.html"
    path.write_text(f"<html><head>{script}</head><body>{nav}{main}</body></html>", encoding="utf-8")
    assert path.stat().st_size > 10_000_000 and b"\n" not in path.read_bytes()
    started = time.monotonic()
    doc = load(path)
    assert time.monotonic() - started < 15
    assert doc.title == "Minified page" and "Link 7" not in doc.body and "var x" not in doc.body

    text = tmp_path / "wall-of-text.html"
    text.write_text("<html><body><p>" + "knee pain when running downhill " * 330_000 + "</p></body></html>")
    started = time.monotonic()
    assert "characters of text, over the 2,000,000-character limit" in _reason(text)
    assert time.monotonic() - started < 15


# -- PDF --------------------------------------------------------------------------------------------------------


def test_pdf_has_page_headings_metadata_title_and_author(tmp_path: Path) -> None:
    path = tmp_path / "taping.pdf"
    path.write_bytes(make_pdf([PAGE_1, PAGE_2], {"Title": "Taping guide", "Author": "A. Physio"}))
    doc = load(path)
    assert doc.title == "Taping guide" and doc.meta is None
    assert doc.extra == {"format": "pdf", "pages": "2", "author": "A. Physio", "file": "taping.pdf"}
    assert doc.body.index("## Page 1") < doc.body.index("Patellar taping") < doc.body.index("## Page 2")

    untitled = tmp_path / "hill_running.pdf"
    untitled.write_bytes(make_pdf([PAGE_1], {"Title": "Microsoft Word - draft3.docx"}))
    assert load(untitled).title == "hill running"


def test_pdf_encrypted_only_against_editing_is_read(tmp_path: Path) -> None:
    path = tmp_path / "locked-for-editing.pdf"
    path.write_bytes(encrypt(make_pdf([PAGE_1]), "", "AES-256"))
    assert "Patellar taping" in load(path).body


def test_html_and_pdf_are_indexed_and_pdf_answers_cite_the_page(assistant: Assistant, articles: Path) -> None:
    (articles / "taping.pdf").write_bytes(make_pdf([PAGE_1, PAGE_2], {"Title": "Taping guide"}))
    (articles / "foam-rolling.html").write_text(ARTICLE, encoding="utf-8")
    report = assistant.ingest([articles])
    assert report.ok, report.failed
    assert sorted(report.added) == ["foam-rolling", "taping"]
    answer = assistant.ask("Should runners who tape the kneecap build hill mileage slowly?")
    cited = [c for c in answer.citations if c.doc_id == "taping"]
    assert cited and {c.section for c in cited} <= {"Page 1", "Page 2"}
    assert any(c.section == "Page 2" and "hill mileage" in c.quote for c in cited)


# -- bad input --------------------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


@pytest.fixture
def store(tmp_path: Path, embeddings: LocalEmbeddings) -> ChromaStore:
    return ChromaStore(tmp_path / "index", "formats", embeddings)


@pytest.fixture
def pipeline(store: ChromaStore, embeddings: LocalEmbeddings) -> IngestPipeline:
    """The real pipeline and a real Chroma store, without building a whole assistant."""
    return IngestPipeline(embeddings, store)


def test_uploads_carry_file_format_and_page_metadata(
    pipeline: IngestPipeline, store: ChromaStore, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "taping.pdf").write_bytes(make_pdf([PAGE_1, PAGE_2], {"Title": "Taping guide", "Author": "A. Physio"}))
    (folder / "foam-rolling.html").write_text(ARTICLE, encoding="utf-8")
    assert pipeline.run([folder]).ok
    metas = {(c.doc_id, str(c.metadata["section"])): c.metadata for c in store.all_chunks()}
    page_2 = metas[("taping", "Page 2")]
    assert page_2["page"] == 2 and page_2["pages"] == "2" and page_2["author"] == "A. Physio"
    assert page_2["kind"] == "unreviewed-upload" and page_2["file"] == "taping.pdf"
    assert page_2["title"] == "Taping guide"
    html_meta = metas[("foam-rolling", "What to do instead")]
    assert html_meta["format"] == "html" and html_meta["kind"] == "unreviewed-upload" and "page" not in html_meta


def test_bad_files_fail_alone_with_one_line_reasons(pipeline: IngestPipeline, articles: Path) -> None:
    good = make_pdf([PAGE_1, PAGE_2])
    files = {
        "empty.pdf": b"",
        "blank.html": b"   \n",
        "password.pdf": encrypt(good, "secret", "RC4-128"),
        "photo.pdf": PNG,
        "photo.html": PNG,
        "paper.txt": encrypt(good, "", "AES-128"),  # a PDF renamed to .txt
        "scanned.pdf": make_pdf([[]]),
        "menu-only.html": b"<html><body><nav><a href='/'>Home</a></nav><script>x()</script></body></html>",
        "truncated.pdf": good[: len(good) // 2],
        "stairs-utf16.txt": "Stairs hurt \u2013 la rotule.\r\nRest helps.".encode("utf-16"),
        "stairs-latin1.txt": "Douleur \u00e0 la rotule en descente.".encode("latin-1"),
    }
    for name, data in files.items():
        (articles / name).write_bytes(data)
    report = pipeline.run([articles])
    expected = {
        "empty.pdf": "file is empty",
        "blank.html": "file is empty",
        "password.pdf": "PDF is encrypted and needs a password",
        "photo.pdf": "not a PDF file",
        "photo.html": "file looks binary",
        "paper.txt": "file looks binary",
        "scanned.pdf": "PDF has no extractable text",
        "menu-only.html": "no text found in this HTML file",
    }
    for name, words in expected.items():
        assert words in report.failed.get(str(articles / name), ""), (name, report.failed)
    for reason in report.failed.values():
        assert "\n" not in reason and "Traceback" not in reason and len(reason) <= 300
    # A truncated PDF is either recovered or refused with a reason; either way the batch went on.
    assert ("truncated" in report.added) != (str(articles / "truncated.pdf") in report.failed)
    assert set(report.added) - {"truncated"} == {
        "kneecap-pain", "outer-knee", "plain-note", "stairs-utf16", "stairs-latin1",
    }


FRENCH = "# Genou du coureur\n\nLa douleur rotulienne s’améliore."


@pytest.mark.parametrize(
    ("encoding", "prefix", "text"),
    [
        ("utf-16", b"", FRENCH),  # Python writes the BOM
        ("utf-16-be", "\ufeff".encode("utf-16-be"), FRENCH),
        ("utf-16-le", b"", FRENCH),  # no BOM at all
        ("utf-8-sig", b"", FRENCH),
        ("utf-32", b"", FRENCH),
        ("cp1252", b"", FRENCH),
        ("latin-1", b"", "Douleur à la rotule."),
    ],
)
def test_text_encodings_decode(tmp_path: Path, encoding: str, prefix: bytes, text: str) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(prefix + text.replace("\n", "\r\n").encode(encoding))
    assert load(path).body == text


def test_limits_on_size_time_and_memory(tmp_path: Path) -> None:
    path = tmp_path / "taping.pdf"
    path.write_bytes(make_pdf([PAGE_1, PAGE_2]))
    assert "over the 1 KB limit" in _reason(path, ReadLimits(max_bytes=1024))
    assert "took longer than the 0.01 s limit" in _reason(path, ReadLimits(timeout_s=0.01))
    assert "memory cap" in _reason(path, ReadLimits(memory_mb=16))
    assert "over the 100-character limit" in _reason(path, ReadLimits(max_chars=100))


def test_pipeline_applies_its_limits_and_keeps_going(
    tmp_path: Path, articles: Path, embeddings: LocalEmbeddings
) -> None:
    (articles / "taping.pdf").write_bytes(make_pdf([PAGE_1, PAGE_2]))
    store = ChromaStore(tmp_path / "index", "limited", embeddings)
    report = IngestPipeline(embeddings, store, ReadLimits(max_bytes=1000)).run([articles])
    too_big = {p for p in articles.iterdir() if p.stat().st_size > 1000}
    assert str(articles / "taping.pdf") in {str(p) for p in too_big} and len(too_big) < 4
    assert set(report.failed) == {str(p) for p in too_big}
    assert all("over the 1000 B limit" in reason for reason in report.failed.values())
    assert sorted(report.added) == sorted(p.stem for p in articles.iterdir() if p not in too_big)
