"""Turn an ``Answer`` into the markdown the chat shows: alert, body, footnotes, referral."""

from __future__ import annotations

from assistant.schema import Answer

NOTICE = (
    "This assistant shares general information from reviewed sources. It is **not a diagnosis** and not a "
    "clinician; see a professional for an examination."
)
STARTERS = [
    "What is runner's knee?",
    "Why does the front of my knee hurt on stairs?",
    "What helps IT band syndrome?",
    "Should I stop running if my knee hurts?",
    "Do knee braces or taping help?",
    "Do steroid injections help runner's knee?",
]


def answer_markdown(answer: Answer) -> str:
    """Markdown for one reply; urgent referrals lead with an alert and the referral always closes it."""
    parts: list[str] = []
    if answer.behavior == "urgent_referral":
        parts.append("⚠️ **Urgent: please seek same-day medical care.**")
    parts.append(answer.body)
    if answer.citations:
        notes = []
        for c in answer.citations:
            evidence = f" · evidence: {c.evidence}" if c.evidence else ""
            link = f" · <{c.url}>" if c.url.startswith("https://") else ""
            notes.append(f"{c.n}. *{c.title}* — {c.section}{evidence}{link}")
        parts.append("**Sources**\n" + "\n".join(notes))
    parts.append(f"> 🩺 {answer.referral}")
    return "\n\n".join(p for p in parts if p)
