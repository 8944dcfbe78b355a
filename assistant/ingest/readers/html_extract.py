"""HTML to markdown-ish text with lxml: the page's main content only, headings kept as ``#`` lines.

Navigation, scripts, styles, forms, asides, site headers/footers and hidden elements are dropped. Runs in the
parsing child (see ``sandbox.py``): imports nothing from this package.
"""

from __future__ import annotations

from typing import Any

from lxml import etree, html

_DROP_TAGS = {
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "canvas",
    "form", "button", "select", "textarea", "input", "nav", "aside", "dialog", "menu",
}
_DROP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog", "menu"}
_BLOCKS = {
    "p", "div", "section", "article", "main", "blockquote", "pre", "table", "thead", "tbody", "tr", "ul", "ol",
    "dl", "dt", "dd", "li", "figure", "figcaption", "address", "details", "summary", "header", "footer", "hr",
    "br", "h1", "h2", "h3", "h4", "h5", "h6", "caption",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


def extract(data: bytes) -> dict[str, Any]:
    """``data`` is UTF-8 (the parent decoded the file); returns body, title and extra, or a reason."""
    # huge_tree: libxml2 otherwise silently drops text nodes over 10 MB; the sandbox caps time and memory instead.
    parser = html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True)
    try:
        doc = html.document_fromstring(data, parser=parser)
    except etree.ParserError as exc:
        return {"reason": f"HTML could not be parsed: {exc}"}
    title = _clean(doc.findtext("head/title") or "")
    root = _main_element(doc)
    if root is None:
        return {"reason": "HTML has no <body> content"}
    _drop_boilerplate(root)
    body = "\n\n".join(_blocks(root))
    return {"body": body, "title": title or None, "extra": {"format": "html"}}


def _main_element(doc: Any) -> Any:
    for query in ("//main", "//*[@role='main']", "//article"):
        found = [e for e in doc.xpath(query) if not _hidden(e)]
        if found:
            return max(found, key=lambda e: len(e.text_content()))
    return doc.find("body")


def _hidden(el: Any) -> bool:
    style = (el.get("style") or "").replace(" ", "").lower()
    return (
        el.get("hidden") is not None
        or (el.get("aria-hidden") or "").lower() == "true"
        or "display:none" in style
        or "visibility:hidden" in style
    )


def _drop_boilerplate(root: Any) -> None:
    doomed = []
    for el in root.iter():
        if not isinstance(el.tag, str) or el is root:
            continue
        tag = el.tag.lower()
        if tag in _DROP_TAGS or (el.get("role") or "").lower() in _DROP_ROLES or _hidden(el):
            doomed.append(el)
        elif tag in ("header", "footer") and not any(a.tag in ("article", "main") for a in el.iterancestors()):
            doomed.append(el)  # a site banner or footer, not an article's own header
    for el in doomed:
        if el.getparent() is not None:
            el.drop_tree()  # keeps the element's tail text, which belongs to its parent


def _blocks(root: Any) -> list[str]:
    """Walk start/end events (no recursion, so deep nesting is safe) and cut blocks at block elements."""
    blocks: list[str] = []
    parts: list[str] = []
    prefix = ""

    def flush() -> None:
        nonlocal prefix
        text = _clean(" ".join(parts))
        parts.clear()
        if text:
            blocks.append(prefix + (text if prefix.startswith("#") else _no_fake_heading(text)))
        prefix = ""

    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _BLOCKS:
                flush()
                prefix = "#" * _HEADINGS[tag] + " " if tag in _HEADINGS else "- " if tag == "li" else ""
            parts.append(el.text or "")
        else:
            if tag in _BLOCKS:
                flush()
            if el is not root:
                parts.append(el.tail or "")
    flush()
    return blocks


def _clean(text: str) -> str:
    return " ".join(text.split())


def _no_fake_heading(text: str) -> str:
    """A paragraph that starts with '# ' would become a heading for the splitter; drop the marks."""
    stripped = text.lstrip("#")
    return stripped.lstrip() if stripped != text and stripped[:1].isspace() else text
