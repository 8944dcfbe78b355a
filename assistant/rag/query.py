"""Deterministic, history-aware retrieval query: a follow-up borrows the subject of the earlier turn."""

from __future__ import annotations

import re

_FOLLOW_UP = re.compile(
    r"^\s*(what about|how about|and\b|also\b|same\b|what if|is that|does that|would that|could that|why\b)"
    r"|\b(it|that|this|those|these|they|them)\b",
    re.I,
)


def build_query(question: str, history: list[tuple[str, str]]) -> str:
    """The question, joined with the previous user turn when it reads like a follow-up or answers what the assistant
    asked (the details a clarifying question asked for)."""
    previous = [text for role, text in history if role == "user" and text.strip()]
    if not previous:
        return question
    short = len(question.split()) <= 8
    asked = bool(history) and history[-1][0] == "assistant" and "?" in history[-1][1]
    if short or asked or _FOLLOW_UP.search(question):
        return f"{question} (context: {previous[-1].strip()[:300]})"
    return question
