"""The professional-evaluation recommendation every answer carries, chosen by behaviour."""

from __future__ import annotations

from assistant.prompts import PromptBook
from assistant.schema import Behavior

_KEY: dict[Behavior, str] = {
    "answer": "routine",
    "no_information": "routine",
    "clarify": "routine",
    "urgent_referral": "urgent",
    "out_of_scope": "out_of_scope",
    "refuse_dosing": "dosing",
    "unavailable": "routine",
}


def referral_for(behavior: Behavior, prompts: PromptBook) -> str:
    """Never empty: an unknown behaviour falls back to the routine recommendation."""
    return prompts.render("referral", _KEY.get(behavior, "routine"))
