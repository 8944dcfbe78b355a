"""Deterministic, history-aware retrieval query: a follow-up borrows what the earlier turn was about.

A message that names its own subject (a knee condition, or where it hurts) is a question of its own, even when it
says "it" ("Is it safe to run with kneecap pain?"): it borrows nothing, so an earlier topic cannot decide its answer.
A follow-up ("how long before I notice a difference?") borrows the earlier user turn whole. One that swaps in
something other than a condition ("what about taping instead?") borrows only the earlier turn's subject (condition,
place, whose knee, an operation, a race), since carrying the earlier treatment along would answer the old question
again; one that swaps the condition ("what about for the IT band?") keeps the earlier turn as its frame. The
runner's first question is borrowed whole when the assistant has just asked for details.
"""

from __future__ import annotations

import re

_FILLER = r"(?:(?:ok|okay|so|but|and|well|right|hmm|thanks|great)[,!.]?\s+)*"
_OPENER = re.compile(
    rf"^\s*{_FILLER}(?:what about|how about|what if|and\b|also\b|same\b|instead\b|is that|does that|would that|"
    r"could that|will that|can that|is this|does this|why\b)",
    re.I,
)
_SWAP = re.compile(rf"^\s*{_FILLER}(?:what about|how about)\b|\binstead\b", re.I)
_POINTER = re.compile(r"\b(it|that|this|those|these|they|them|he|she|his|her)\b", re.I)
# What is wrong and where: a message naming one of these is about it, whatever came before.
_CONDITION = (
    r"patellofemoral(?: pain(?: syndrome)?)?|runner'?s knee|chondromalacia(?: patellae)?|"
    r"it ?band(?: syndrome)?|itbs?|iliotibial(?: band)?(?: syndrome)?|patellar tend\w+|jumper'?s knee|"
    r"tendinopathy|tendinitis|tendonitis|menisc(?:us|al)(?: tear)?|cartilage|osteoarthritis|arthritis|"
    r"osgood[- ]schlatter'?s?|sinding[- ]larsen\w*|acl|mcl|ligaments?|bursitis|plica|baker'?s cyst|fat pad|"
    r"(?:front|outside|outer|inside|inner|back)(?: side)? (?:of (?:the |my |his |her |your )?)?knees?|"
    r"(?:under|below|above|around|behind) (?:the |my |his |her |your )?kneecap|kneecaps?|patella|lump"
)
_NAMES_CONDITION = re.compile(rf"\b(?:{_CONDITION})\b", re.I)
# What a follow-up borrows: the condition and place, and whose knee, an operation, a race.
_SUBJECT = re.compile(
    rf"\b(?:{_CONDITION}|\d+[- ]?(?:year|yr)s?[- ]?old|teen(?:ager)?s?|son|daughter|child|kids?|"
    r"surgery|operation|arthroscop\w+|(?:half )?marathon|ultra|race|\d+ ?k race)\b",
    re.I,
)
SHORT_WORDS = 8


def build_query(question: str, history: list[tuple[str, str]]) -> str:
    """The question, or the question with what it refers back to (see the module docstring)."""
    previous = [text.strip() for role, text in history if role == "user" and text.strip()]
    if not previous:
        return question
    if history[-1][0] == "assistant" and "?" in history[-1][1]:  # details for what the assistant asked
        return f"{question} (context: {previous[-1][:300]})"
    opens_as_follow_up = bool(_OPENER.search(question))
    leans_back = len(question.split()) <= SHORT_WORDS or bool(_POINTER.search(question))
    names_condition = bool(_NAMES_CONDITION.search(question))
    if not opens_as_follow_up and (not leans_back or names_condition):
        return question
    borrowed = subject(previous) if _SWAP.search(question) and not names_condition else ""
    return f"{question} (context: {borrowed or previous[-1][:300]})"


def subject(turns: list[str]) -> str:
    """What the latest earlier turn that names one is about: its conditions, places, people and events, in order."""
    for text in reversed(turns):
        found = list(dict.fromkeys(m.group(0).lower() for m in _SUBJECT.finditer(text)))
        if found:
            return ", ".join(found)
    return ""
