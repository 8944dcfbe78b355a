"""Turn an ``Answer`` into what the chat shows: alert, body with footnote markers, source cards, referral.

The body has already been through the output filter (HTML neutralised); everything this module adds around it is
built here from escaped citation fields, so a document title cannot inject markup.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from assistant.ingest.frontmatter import strip_markers
from assistant.schema import Answer, Citation, Reference

NOTICE = (
    "This assistant shares general information from reviewed sources. It is **not a diagnosis** and not a "
    "clinician; see a professional for an examination."
)
WELCOME = (
    "**Hi! Ask me about knee pain and running.** I answer with quotes from reviewed sources and tell you when to see "
    "someone. Try one of these:"
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


def source_cards(citations: list[Citation]) -> str:
    """The sources of one answer: one group per article, one card per quoted passage, on one line each.

    Markdown ends an HTML block at a blank line, so nothing here contains one. A card carries the numbers of the
    ``[n]`` markers that point to it as classes (``cites-n``; Gradio's sanitiser drops ``data-`` attributes), which
    the chat's script uses to open it from the marker.
    """
    articles: dict[str, list[list[Citation]]] = {}
    passages: dict[tuple[str, str, int | None], list[Citation]] = {}
    for c in citations:
        key = (c.doc_id, c.section, c.page)
        if key not in passages:
            passages[key] = []
            articles.setdefault(c.doc_id, []).append(passages[key])
        passages[key].append(c)
    groups = []
    for cards in articles.values():
        title = escape(cards[0][0].title)
        groups.append(f"<div class='src-article'><div class='src-title'>{title}</div>"
                      f"{''.join(_passage_card(cs) for cs in cards)}</div>")
    return "".join(groups)


def _passage_card(cites: list[Citation]) -> str:
    first = cites[0]
    numbers = " ".join(f"cites-{c.n}" for c in cites)
    marks = "".join(f"<span class='src-n'>[{c.n}]</span>" for c in cites)
    # A PDF's section is its "Page N" heading; with the page shown as "p. N" that would say it twice.
    shown_section = first.section and not (first.page is not None and _PAGE_SECTION.match(first.section.strip()))
    where = [escape(first.section)] if shown_section else []
    if first.page is not None:
        where.append(f"p. {first.page}")
    # Quotes as a runner reads them: without the [S12] markers (the card lists those references below).
    quotes = "".join(f"<blockquote class='src-quote'><span class='src-n'>[{c.n}]</span> "
                     f"{escape(strip_markers(c.quote))}</blockquote>" for c in cites)
    meta = f"<div class='src-evidence'>Evidence: {escape(first.evidence)}</div>" if first.evidence else ""
    return (f"<details class='source-card {numbers}'><summary>{marks} "
            f"<span class='src-section'>{' · '.join(where) or 'Passage'}</span></summary>{quotes}{meta}"
            f"{_references(cites)}</details>")


def _references(cites: list[Citation]) -> str:
    """The published sources behind a card's quotes, each linked to the article itself, with its publisher."""
    seen: dict[str, Reference] = {}
    for c in cites:
        for ref in c.references:
            seen.setdefault(ref.label + ref.title, ref)
    if not seen and any(c.sources for c in cites):  # an index built before references had links
        plain = "".join(f"<li>{escape(text)}</li>" for text in dict.fromkeys(s for c in cites for s in c.sources))
        return f"<ul class='src-refs'>{plain}</ul>"
    items: list[str] = []
    for ref in seen.values():
        name = f"{escape(ref.label)}: {escape(ref.title)}"
        if ref.link.startswith(("https://", "http://")):
            name = f"<a href='{escape(ref.link, quote=True)}' target='_blank' rel='noopener noreferrer'>{name}</a>"
        publisher = f" <span class='src-publisher'>({escape(ref.publisher)})</span>" if ref.publisher else ""
        items.append(f"<li class='src-ref'>{name}{publisher}</li>")
    return f"<ul class='src-refs'>{''.join(items)}</ul>" if items else ""


def footnote_markers(body: str, numbers: set[int]) -> str:
    """``[n]`` becomes a footnote link that opens its source card (the text keeps ``[n]`` for copy and screen readers).

    Any other bracket is escaped first, so the body can hold no link or image, whatever the filter missed.
    """
    body = _LONE_BRACKET.sub(lambda m: "\\" + m.group(0), body)
    return _MARKER.sub(lambda m: f"<a class='fn' href='#sources' title='Open source {m.group(1)}'>[{m.group(1)}]</a>"
                       if int(m.group(1)) in numbers else m.group(0), body)


def answer_markdown(answer: Answer) -> str:
    """Markdown for one reply; urgent referrals lead with an alert and the referral always closes it."""
    parts: list[str] = []
    if answer.behavior == "urgent_referral":
        alert = EMERGENCY_ALERT if answer.tier == "emergency" else URGENT_ALERT
        parts.append(f"<div class='urgent-alert' role='alert'><strong>{alert}</strong></div>")
    parts.append(footnote_markers(answer.body, {c.n for c in answer.citations}))
    if answer.citations:
        parts.append(f"<div class='sources'><div class='sources-head'>Sources</div>{source_cards(answer.citations)}"
                     f"</div>")
    parts.append(f"<div class='referral' role='note'><strong>See a professional:</strong> "
                 f"{escape(answer.referral)}</div>")
    return "\n\n".join(p for p in parts if p)


def plain_reply(text: str) -> str:
    """A reply that is not an Answer (rate limit, busy): shown as it is, escaped, marked so it offers no thumbs."""
    return f"<span class='system-reply'>{escape(text)}</span>"


def limit_class(limit: int) -> str:
    """The input's class that tells the chat's script the message limit (it shows the counter near it)."""
    return f"max-chars-{int(limit)}"


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
