"""PDF to text with pypdf: one ``## Page N`` heading per page, so chunk sections carry the page number.

Runs in the parsing child (see ``sandbox.py``): imports nothing from this package.
"""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

_FAKE_HEADING = re.compile(r"^\s*#{1,6}(?=\s)", re.M)
_JUNK_TITLE = re.compile(r"^(?:microsoft \w+ - |untitled\b)|\.(?:docx?|pdf|tex|indd|rtf|odt)$", re.I)


def extract(data: bytes) -> dict[str, Any]:
    """Body with page headings, the metadata title and author, and the page count; or a reason."""
    reader = PdfReader(io.BytesIO(data), strict=False)
    reason = _unlock(reader)
    if reason:
        return {"reason": reason}
    pages: list[str] = []
    unreadable = 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except FileNotDecryptedError:
            return {"reason": "PDF is encrypted and needs a password"}
        except Exception:  # one damaged page should not cost the rest of the document
            unreadable += 1
            continue
        text = _FAKE_HEADING.sub("", text).strip()
        if text:
            pages.append(f"## Page {number}\n\n{text}")
    if not pages:
        return {"reason": "PDF has no extractable text (scanned pages need OCR first)"}
    title, author = _info(reader)
    extra = {"format": "pdf", "pages": str(len(reader.pages))}
    if author:
        extra["author"] = author
    if unreadable:
        extra["unreadable_pages"] = str(unreadable)
    return {"body": "\n\n".join(pages) + "\n", "title": title, "extra": extra}


def _unlock(reader: PdfReader) -> str | None:
    """Open PDFs that are encrypted only against editing (empty user password); refuse the rest."""
    if not reader.is_encrypted:
        return None
    try:
        result = reader.decrypt("")
    except DependencyError:
        return "PDF uses encryption that needs the 'cryptography' package"
    except NotImplementedError as exc:
        return f"PDF uses unsupported encryption: {exc}"
    if result == PasswordType.NOT_DECRYPTED:
        return "PDF is encrypted and needs a password"
    return None


def _info(reader: PdfReader) -> tuple[str | None, str | None]:
    try:
        meta = reader.metadata
        title, author = (meta.title, meta.author) if meta else (None, None)
    except Exception:  # broken document info must not cost the text
        return None, None
    title = " ".join(str(title).split()) if title else ""
    author = " ".join(str(author).split()) if author else ""
    return (title if title and not _JUNK_TITLE.search(title) else None), (author or None)
