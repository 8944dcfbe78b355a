"""Input hygiene: normalise Unicode, drop invisible and control characters, enforce the length cap."""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Lone surrogates (from JSON "\ud800" escapes) are not text: the tokenizer rejects them and UTF-8 cannot carry them.
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """NFKC-normalised text without zero-width, tag, bidi, control or surrogate characters; whitespace tidied."""
    text = unicodedata.normalize("NFKC", _SURROGATE.sub("", str(text)))
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


HISTORY_TURNS = 12
TURN_CHARS = 4000


def clean_history(history: object) -> list[tuple[str, str]]:
    """Keep well-formed (role, text) pairs with role user/assistant; silently drop anything else.

    Count and length are cut before any cleaning, so a huge history costs no more than a short one.
    """
    out: list[tuple[str, str]] = []
    if not isinstance(history, list | tuple):
        return out
    for item in list(history[-HISTORY_TURNS:]):
        role, text = _pair(item)
        if role in {"user", "assistant"} and text:
            out.append((role, clean_text(text[:TURN_CHARS])[:TURN_CHARS]))
    return out


def _pair(item: object) -> tuple[str, str]:
    if isinstance(item, dict):
        role, text = item.get("role", ""), item.get("content", "")
    elif isinstance(item, list | tuple) and len(item) == 2:
        role, text = item
    else:
        return "", ""
    # Only strings count: str() of a nested structure would turn any JSON into text of unbounded size.
    return (role, text) if isinstance(role, str) and isinstance(text, str) else ("", "")
