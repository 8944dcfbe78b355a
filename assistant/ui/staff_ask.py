"""The staff *Ask* tab: one question with a chosen backend, top-k and metadata filter, and the pipeline's inside view.

The logic is plain functions over ``Assistant`` and ``Answer`` (tests call them without Gradio); ``build_ask_tab``
only lays out components and wires them to those functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from assistant.errors import InputError
from assistant.rag.service import Assistant
from assistant.schema import Answer, AskOptions, FilterValue
from assistant.ui.render import answer_markdown
from assistant.ui.staff_common import PRIVATE, require_staff, shown_as_message

CONFIGURED, EXTRACTIVE = "configured", "extractive"
NO_FILTER = "no filter"
FILTER_KEYS = ("kind", "evidence", "doc_id")
NO_LLM = "No LLM is configured (`llm.provider = extractive`): only the extractive composer is available."
CANDIDATE_HEADERS = ["rank", "doc", "section", "dense", "bm25", "question", "fused", "chunk"]
CITATION_HEADERS = ["n", "doc", "section", "page", "quote"]
DECISION_HEADERS = ["stage", "outcome", "reason"]
REMOVED_HEADERS = ["removed sentence (not supported by its cited passage)"]
TIMING_HEADERS = ["stage", "ms"]
MAX_TOP_K = 50  # AskOptions.top_k's bound


@dataclass(frozen=True)
class Setup:
    """One configuration a question is asked with: backend, top-k and an optional ``key: value`` filter."""

    backend: str = CONFIGURED
    top_k: int | None = None
    filter: str = NO_FILTER


def backend_choices(assistant: Assistant) -> tuple[list[tuple[str, str]], str, str]:
    """The radio's choices, its default and its help text (only extractive when no LLM is configured)."""
    if not assistant.has_llm:
        return [("extractive (the only backend: no LLM configured)", EXTRACTIVE)], EXTRACTIVE, NO_LLM
    llm = assistant.settings.llm
    return ([(f"configured: LLM ({llm.provider}, {llm.model or 'default model'}), citation-checked", CONFIGURED),
             ("extractive (source sentences only)", EXTRACTIVE)], CONFIGURED,
            "The LLM answer is verified sentence by sentence; unsupported sentences are removed.")


def filter_choices(documents: list[dict[str, object]]) -> list[str]:
    """``kind: ...``, ``evidence: ...`` and ``doc_id: ...`` entries for every value present in the index."""
    out = [NO_FILTER]
    for key in FILTER_KEYS:
        out += [f"{key}: {v}" for v in sorted({str(d.get(key) or "") for d in documents} - {""})]
    return out


def parse_filter(text: str | None) -> dict[str, FilterValue]:
    """``"kind: article"`` -> ``{"kind": "article"}``; empty or ``no filter`` -> ``{}``."""
    text = (text or "").strip()
    if not text or text == NO_FILTER:
        return {}
    key, sep, value = text.partition(":")
    if not sep or key.strip() not in FILTER_KEYS or not value.strip():
        raise InputError(f"filter {text!r}: write it as 'kind: VALUE', 'evidence: VALUE' or 'doc_id: VALUE'")
    return {key.strip(): value.strip()}


def ask_options(setup: Setup) -> AskOptions:
    if setup.backend not in (CONFIGURED, EXTRACTIVE):
        raise InputError(f"unknown backend {setup.backend!r}: choose '{CONFIGURED}' or '{EXTRACTIVE}'")
    if setup.top_k is not None and not 1 <= setup.top_k <= MAX_TOP_K:
        raise InputError(f"top-k must be between 1 and {MAX_TOP_K}, not {setup.top_k}")
    return AskOptions(top_k=setup.top_k, where=parse_filter(setup.filter), extractive=setup.backend == EXTRACTIVE)


def backend_used(answer: Answer) -> str:
    """Who wrote the answer, read from the compose decisions."""
    for d in answer.decisions:
        if d.stage == "compose" and d.outcome == "llm":
            return f"LLM ({d.reason})"
        if d.stage == "compose" and d.outcome == "fallback":
            return f"extractive fallback ({d.reason})"
    return "extractive" if answer.citations else "none (nothing was composed)"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def inside_view(answer: Answer) -> dict[str, Any]:
    """The tables the console shows for one answer (plain lists, so tests can check them without Gradio)."""
    return {
        "summary": (f"**Behaviour:** `{answer.behavior}` · **Tier:** `{answer.tier}` · "
                    f"**Backend:** {backend_used(answer)} · "
                    f"**Retrieval query:** {answer.query or '—'}"),
        "rendered": answer_markdown(answer),
        "candidates": [[i, c.doc_id, c.section, _score(c.dense), _score(c.bm25), _score(c.question),
                        _score(c.score), c.chunk_id]
                       for i, c in enumerate(answer.candidates, start=1)],
        "citations": [[c.n, c.doc_id, c.section, "" if c.page is None else c.page, c.quote]
                      for c in answer.citations],
        "decisions": [[d.stage, d.outcome, d.reason] for d in answer.decisions],
        # The verifier's removals (LLM mode): stage "verify", outcome "removed", the sentence as the reason.
        "removed": [[d.reason] for d in answer.decisions if d.stage == "verify" and d.outcome == "removed"],
        "timings": [[stage, ms] for stage, ms in answer.timings.items()],
    }


def staff_ask(assistant: Assistant, question: str, setup: Setup) -> tuple[Answer, dict[str, Any]]:
    """Ask with the per-question options; ``InputError`` for a bad setup."""
    answer = assistant.ask(question or "", options=ask_options(setup))
    return answer, inside_view(answer)


def setup_controls(assistant: Assistant, suffix: str = "", elem_prefix: str = "staff") -> tuple[Any, Any, Any]:
    """Backend radio, top-k slider and filter dropdown for one configuration."""
    choices, default, info = backend_choices(assistant)
    backend = gr.Radio(choices, value=default, label=f"Backend{suffix}", info=info,
                       interactive=assistant.has_llm, elem_id=f"{elem_prefix}-backend")
    top_k = gr.Slider(1, MAX_TOP_K, value=assistant.settings.retrieval.top_k, step=1,
                      label=f"top-k{suffix} (chunks given to the composer)", elem_id=f"{elem_prefix}-top-k")
    where = gr.Dropdown([NO_FILTER], value=NO_FILTER, allow_custom_value=True, label=f"Metadata filter{suffix}",
                        info="Only chunks whose metadata equals this value; type 'doc_id: ID' for any document.",
                        elem_id=f"{elem_prefix}-filter")
    return backend, top_k, where


def result_tables(prefix: str = "staff") -> dict[str, Any]:
    """The components one answer's inside view is shown in, keyed like ``inside_view``'s result."""
    out: dict[str, Any] = {"summary": gr.Markdown(elem_id=f"{prefix}-summary")}
    with gr.Accordion("Answer as the runner sees it", open=False):
        out["rendered"] = gr.Markdown(sanitize_html=True, elem_id=f"{prefix}-rendered")
    out["candidates"] = gr.Dataframe(headers=CANDIDATE_HEADERS, label="Retrieved candidates", interactive=False,
                                     wrap=True, column_widths=["6%", "16%", "32%", "8%", "8%", "8%", "22%"])
    out["citations"] = gr.Dataframe(headers=CITATION_HEADERS, label="Chosen sentences", interactive=False,
                                    wrap=True, column_widths=["5%", "15%", "20%", "7%", "53%"])
    out["decisions"] = gr.Dataframe(headers=DECISION_HEADERS, label="Guardrail decisions", interactive=False,
                                    wrap=True)
    out["removed"] = gr.Dataframe(headers=REMOVED_HEADERS, label="Removed unsupported claims (LLM mode)",
                                  interactive=False, wrap=True)
    out["timings"] = gr.Dataframe(headers=TIMING_HEADERS, label="Latency per stage (ms)", interactive=False)
    return out


VIEW_KEYS = ("summary", "rendered", "candidates", "citations", "decisions", "removed", "timings")


def build_ask_tab(assistant: Assistant) -> Any:
    """The *Ask* tab; returns its filter dropdown so the console can refresh the choices."""
    question = gr.Textbox(label="Question", elem_id="staff-question")
    with gr.Row():
        backend, top_k, where = setup_controls(assistant)
    ask = gr.Button("Ask", variant="primary", elem_id="staff-ask")
    shown = result_tables()

    def do_ask(request: gr.Request, text: str, chosen: str, k: float, filter_text: str) -> tuple[Any, ...]:
        require_staff(request)
        with shown_as_message():
            _, view = staff_ask(assistant, text, Setup(chosen, int(k), filter_text))
        return tuple(view[key] for key in VIEW_KEYS)

    ask.click(do_ask, [question, backend, top_k, where], [shown[key] for key in VIEW_KEYS], **PRIVATE)
    question.submit(do_ask, [question, backend, top_k, where], [shown[key] for key in VIEW_KEYS],
                    **PRIVATE)
    return where
