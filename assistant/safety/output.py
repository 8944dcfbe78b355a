"""Output filter: escape HTML, drop foreign links and images, drop any sentence that reads like a dose."""

from __future__ import annotations

import re
from urllib.parse import urlparse

DOSE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg|milligrams?|mcg|µg|g\b|ml\b|tablets?|pills?|capsules?|puffs?)\b"
    r"|\b\d+\s*(?:times|x)\s*(?:a|per|each)\s*day\b|\bevery\s+\d+\s*(?:-\s*\d+\s*)?hours?\b",
    re.I,
)
_IMAGE = re.compile(r"!\[[^\]]*\]\s*(?:\([^)]*\)|\[[^\]]*\])")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?(\S+?)>?(?:\s+[\"'(][^)]*)?\s*\)")
# [text][label]; citation markers standing side by side ("[1][2]") are not links.
_REF_LINK = re.compile(r"\[(?!\d{1,2}\])([^\]]+)\]\[(?!\d{1,2}\])[^\]]*\]")
_REF_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S.*$", re.MULTILINE)
_BARE_URL = re.compile(r"(?i)\b(?:https?://|ftp://|www\.)[^\s<>()]+")


def has_dose(text: str) -> bool:
    return bool(DOSE.search(text))


def filter_output(text: str, allowed_hosts: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """Safe markdown for display, and what was removed (for the staff view).

    Images and links in every markdown form (inline, with a space after the bracket, reference-style with their
    definitions, bare URLs) are removed, but for links to ``allowed_hosts``; HTML is escaped.
    """
    removed: list[str] = []

    def _drop(pattern: re.Pattern[str], what: str, keep: str = "") -> None:
        nonlocal text
        if pattern.search(text):
            removed.append(what)
            text = pattern.sub(keep, text)

    _drop(_IMAGE, "markdown image")
    _drop(_REF_DEFINITION, "link definition")

    def _link(m: re.Match[str]) -> str:
        host = urlparse(m.group(2)).hostname or ""
        if host in allowed_hosts:
            return m.group(0)
        removed.append(f"link to {host or m.group(2)[:40]}")
        return m.group(1)

    text = _LINK.sub(_link, text)
    _drop(_REF_LINK, "reference link", r"\1")
    kept = [m.group(0) for m in _LINK.finditer(text)]
    if _BARE_URL.search(_LINK.sub("", text)):
        removed.append("bare link")
        text = _BARE_URL.sub(lambda m: m.group(0) if any(m.group(0) in k for k in kept) else "", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text, removed
