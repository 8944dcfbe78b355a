"""Turn an ``Answer`` into what the chat shows: alert, body with footnote markers, source cards, referral.

The body has already been through the output filter (HTML neutralised); everything this module adds around it is
built here from escaped citation fields, so a document title cannot inject markup.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from assistant.schema import Answer, Citation

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
URGENT_ALERT = "⚠ Urgent: please seek same-day medical care."  # no emoji variant: renders without an emoji font
EMERGENCY_ALERT = "⚠ Emergency: call your local emergency number now."
_PAGE_SECTION = re.compile(r"^page\s+\d+$", re.IGNORECASE)
_MARKER = re.compile(r"\[(\d{1,2})\]")
# Brackets that are not a citation marker: escaped, so no text can form a markdown link or image.
_LONE_BRACKET = re.compile(r"\[(?!\d{1,2}\])|(?<!\[\d)(?<!\[\d\d)\]")
# Every ASCII punctuation mark but the two that HTML entities need: escaped, text shows as typed and never as markup.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-%'-/:-:<-@\[-`{-~])")
SHOWN_CHARS = 2000
RUNNER_FIELDS = ("text", "body", "behavior", "tier", "referral", "citations")


def source_card(c: Citation) -> str:
    """One expandable card, on one line: markdown ends an HTML block at a blank line."""
    # A PDF's section is its "Page N" heading; with the page shown as "p. N" that would say it twice.
    shown_section = c.section and not (c.page is not None and _PAGE_SECTION.match(c.section.strip()))
    meta = [f"<span class='src-section'>{escape(c.section)}</span>"] if shown_section else []
    if c.page is not None:
        meta.append(f"<span class='src-page'>p. {c.page}</span>")
    if c.evidence:
        meta.append(f"<span class='src-evidence'>evidence: {escape(c.evidence)}</span>")
    if c.url.startswith("https://"):
        meta.append(f"<a href='{escape(c.url, quote=True)}' target='_blank' rel='noopener noreferrer'>source link</a>")
    # The references behind the quote name author and year ("Willy RW 2019: Patellofemoral Pain ...").
    refs = "".join(f"<div class='src-ref'>{escape(ref)}</div>" for ref in c.sources)
    return (
        f"<details class='source-card' id='src-{c.n}'><summary><span class='src-n'>[{c.n}]</span> "
        f"<span class='src-title'>{escape(c.title)}</span></summary>"
        f"<blockquote class='src-quote'>{escape(c.quote)}</blockquote>"
        f"<div class='src-meta'>{' · '.join(meta)}{refs}</div></details>"
    )


def footnote_markers(body: str, numbers: set[int]) -> str:
    """``[n]`` becomes a superscript footnote marker (the text keeps ``[n]`` for copy-paste and screen readers).

    Any other bracket is escaped first, so the body can hold no link or image, whatever the filter missed.
    """
    body = _LONE_BRACKET.sub(lambda m: "\\" + m.group(0), body)
    return _MARKER.sub(lambda m: f"<sup class='fn'>[{m.group(1)}]</sup>" if int(m.group(1)) in numbers
                       else m.group(0), body)


def answer_markdown(answer: Answer) -> str:
    """Markdown for one reply; urgent referrals lead with an alert and the referral always closes it."""
    parts: list[str] = []
    if answer.behavior == "urgent_referral":
        alert = EMERGENCY_ALERT if answer.tier == "emergency" else URGENT_ALERT
        parts.append(f"<div class='urgent-alert' role='alert'><strong>{alert}</strong></div>")
    parts.append(footnote_markers(answer.body, {c.n for c in answer.citations}))
    if answer.citations:
        cards = "".join(source_card(c) for c in answer.citations)
        parts.append(f"<div class='sources'><div class='sources-head'>Sources</div>{cards}</div>")
    parts.append(f"<div class='referral' role='note'><strong>See a professional:</strong> "
                 f"{escape(answer.referral)}</div>")
    return "\n\n".join(p for p in parts if p)


def plain_reply(text: str) -> str:
    """A reply that is not an Answer (rate limit, busy): shown as it is, escaped."""
    return escape(text)


def plain_markdown(text: str) -> str:
    """Someone else's text for a markdown view: HTML escaped and every markdown sign neutralised."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", escape(text, quote=False))


def user_bubble(text: str, limit: int = SHOWN_CHARS) -> str:
    """The runner's own message as shown in the chat: plain text, long ones shortened for display."""
    if len(text) > limit:
        text = f"{text[:200]} … ({len(text):,} characters)"
    return plain_markdown(text)


def runner_view(answer: Answer) -> dict[str, Any]:
    """What the public ``/ask`` API returns: the answer as a runner sees it, without the pipeline's inside view."""
    data = answer.model_dump(include=set(RUNNER_FIELDS))
    return {key: data[key] for key in RUNNER_FIELDS}
