"""The professional-evaluation recommendation every answer carries, chosen by behaviour, tier and who it is for."""

from __future__ import annotations

from assistant.prompts import PromptBook
from assistant.safety.redflags import Finding, Tier
from assistant.safety.subject import Subject
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
_BY_TIER: dict[str, str] = {"emergency": "emergency", "same_day": "urgent", "within_days": "within_days"}


def referral_for(behavior: Behavior, prompts: PromptBook, tier: Tier = "routine",
                 subject: Subject | None = None) -> str:
    """Never empty: an unknown behaviour falls back to the routine recommendation; a red-flag tier outranks the
    behaviour (a settled locking episode in an answer still says: within days)."""
    key = _KEY.get(behavior, "routine")
    if behavior in ("answer", "urgent_referral", "unavailable", "clarify", "no_information") and tier in _BY_TIER:
        key = _BY_TIER[tier]
    return prompts.render("referral", key, **(subject or Subject("self")).wording())


def care_advice(prompts: PromptBook, findings: list[Finding], tier: Tier, subject: Subject) -> str:
    """The lead of a reply with a red flag: how soon to get care, naming what was found and what it may mean, worded
    for who it is about; empty when the tier needs no such lead."""
    key = {"emergency": "urgent_emergency", "same_day": "urgent", "within_days": "within_days"}.get(tier)
    top = [f for f in findings if f.tier == tier]
    if key is None or not top:
        return ""
    return prompts.render("templates", key, found="; ".join(f.found for f in top), concern=top[0].concern,
                          **subject.wording())
