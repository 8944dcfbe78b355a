"""Ingest-time injection scan: text that addresses an AI or hides itself is held back from the index."""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("instruction to ignore rules", re.compile(
        r"\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|all|your|the)\b.{0,20}"
        r"\b(instructions?|rules?|prompts?|guidelines?)\b", re.I)),
    ("fake system or role message", re.compile(
        r"(^|\n)\s*(system|assistant|developer)\s*:|\[/?(system|inst)\]|<\|?(system|im_start|im_end)\|?>", re.I)),
    ("note addressed to an AI", re.compile(
        r"\b(note|message|instructions?) (to|for) (ai|llm|chat ?bots?|language models?|assistants?)\b"
        r"|\b(ai|llm) (assistants?|models?),? (must|should|shall|always|never)\b"
        r"|\byou are (now )?(an? )?(ai|assistant|chat ?bot|language model)\b", re.I)),
    ("hidden Unicode tag or bidi characters", re.compile("[\U000e0000-\U000e007f\u202a-\u202e\u2066-\u2069]")),
    ("zero-width characters", re.compile("[\u200b-\u200d\u2060\ufeff]{2,}")),
)


def scan(text: str) -> list[str]:
    """Reasons this text looks like an injection attempt (empty when it looks like ordinary prose)."""
    return [reason for reason, pattern in _PATTERNS if pattern.search(text)]
