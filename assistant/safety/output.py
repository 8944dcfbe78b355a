"""Output filter: escape HTML, drop foreign links and images, drop any sentence that reads like a dose."""

from __future__ import annotations

import re
from urllib.parse import urlparse

DOSE = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg|milligrams?|mcg|µg|g\b|ml\b|tablets?|pills?|capsules?|puffs?)\b"
    r"|\b\d+\s*(?:times|x)\s*(?:a|per|each)\s*day\b|\bevery\s+\d+\s*(?:-\s*\d+\s*)?hours?\b",
    re.I,
)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((\S+?)\)")


def has_dose(text: str) -> bool:
    return bool(DOSE.search(text))


def filter_output(text: str, allowed_hosts: frozenset[str] = frozenset()) -> tuple[str, list[str]]:
    """Safe markdown for display, and what was removed (for the staff view)."""
    removed: list[str] = []
    if _IMAGE.search(text):
        removed.append("markdown image")
        text = _IMAGE.sub("", text)

    def _link(m: re.Match[str]) -> str:
        host = urlparse(m.group(2)).hostname or ""
        if host in allowed_hosts:
            return m.group(0)
        removed.append(f"link to {host or m.group(2)[:40]}")
        return m.group(1)

    text = _LINK.sub(_link, text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text, removed
