"""Bytes to text: byte-order marks first, then UTF-16 without BOM, UTF-8, Windows-1252, Latin-1."""

from __future__ import annotations

import codecs
import re

from assistant.errors import IngestError

_BOMS = (  # UTF-32 before UTF-16: the UTF-32-LE mark starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAMPLE = 8192
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_SHARE = 0.05
_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252"}


def decode_text(raw: bytes, declared: str | None = None) -> tuple[str, str]:
    """The text (newlines normalised) and the encoding used; ``IngestError`` for binary data."""
    encoding = _bom_encoding(raw) or _utf16_without_bom(raw[:_SAMPLE])
    if encoding:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            raise IngestError(f"file looks like {encoding.upper()} text but does not decode as it") from None
    elif b"\x00" in raw[:_SAMPLE]:
        raise IngestError("file looks binary (NUL bytes), not text")
    else:
        text, encoding = _decode_8bit(raw, declared)
    sample = text[:100_000]
    if sample and len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise IngestError("file looks binary (control characters), not text")
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def _bom_encoding(raw: bytes) -> str | None:
    return next((name for bom, name in _BOMS if raw.startswith(bom)), None)


def _utf16_without_bom(sample: bytes) -> str | None:
    """Mostly-ASCII UTF-16 has a NUL in every other byte; binary formats scatter theirs."""
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.4 and even_nul < 0.02:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.02:
        return "utf-16-be"
    return None


def _decode_8bit(raw: bytes, declared: str | None) -> tuple[str, str]:
    # Valid UTF-8 with non-ASCII bytes is almost never anything else, so it wins over a declared charset;
    # like browsers, read "Latin-1" as Windows-1252 and ignore a UTF-16 declaration on 8-bit bytes.
    if declared:
        declared = _ALIASES.get(declared.lower(), declared)
    candidates = [c for c in ("utf-8", declared, "cp1252") if c and _known(c)]
    for name in candidates:
        try:
            return raw.decode(name), name
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


def _known(name: str) -> bool:
    try:
        return not codecs.lookup(name).name.startswith(("utf-16", "utf-32"))
    except LookupError:
        return False
