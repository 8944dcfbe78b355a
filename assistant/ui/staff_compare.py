"""The staff *Compare* tab: one question under two configurations (A and B) side by side, with a short diff."""

from __future__ import annotations

from typing import Any

import gradio as gr

from assistant.rag.service import Assistant
from assistant.schema import Answer
from assistant.ui.staff_ask import VIEW_KEYS, Setup, backend_used, result_tables, setup_controls, staff_ask
from assistant.ui.staff_common import PRIVATE, require_staff, shown_as_message


def _ids(items: set[str]) -> str:
    return ", ".join(f"`{i}`" for i in sorted(items)) or "—"


def diff_summary(a: Answer, b: Answer) -> str:
    """Markdown: behaviour, backend, cited documents shared / only in A / only in B, candidate overlap, latency."""
    cited_a, cited_b = {c.doc_id for c in a.citations}, {c.doc_id for c in b.citations}
    chunks_a, chunks_b = {c.chunk_id for c in a.candidates}, {c.chunk_id for c in b.candidates}
    same = "same" if a.behavior == b.behavior else "**different**"
    rows = [
        "| | A | B |",
        "|---|---|---|",
        f"| behaviour ({same}) | `{a.behavior}` | `{b.behavior}` |",
        f"| backend | {backend_used(a)} | {backend_used(b)} |",
        f"| candidates | {len(chunks_a)} | {len(chunks_b)} |",
        f"| cited sentences | {len(a.citations)} | {len(b.citations)} |",
        f"| total ms | {a.timings.get('total', 0):.0f} | {b.timings.get('total', 0):.0f} |",
    ]
    lines = [
        "### Difference",
        "",
        *rows,
        "",
        f"- **Cited in both:** {_ids(cited_a & cited_b)}",
        f"- **Only in A:** {_ids(cited_a - cited_b)}",
        f"- **Only in B:** {_ids(cited_b - cited_a)}",
        f"- **Candidate chunks shared:** {len(chunks_a & chunks_b)} of {len(chunks_a | chunks_b)}",
        f"- **Answer text:** {'identical' if a.body == b.body else 'differs'}",
    ]
    return "\n".join(lines)


def compare(assistant: Assistant, question: str, a: Setup, b: Setup) -> dict[str, Any]:
    """Ask twice; ``{"a": view, "b": view, "diff": markdown}`` (views as ``inside_view`` returns them)."""
    answer_a, view_a = staff_ask(assistant, question, a)
    answer_b, view_b = staff_ask(assistant, question, b)
    return {"a": view_a, "b": view_b, "diff": diff_summary(answer_a, answer_b)}


def build_compare_tab(assistant: Assistant) -> list[Any]:
    """The *Compare* tab; returns its two filter dropdowns so the console can refresh their choices."""
    question = gr.Textbox(label="Question", elem_id="compare-question")
    with gr.Row():
        with gr.Column():
            gr.Markdown("**Configuration A**")
            backend_a, top_k_a, where_a = setup_controls(assistant, " (A)", "compare-a")
        with gr.Column():
            gr.Markdown("**Configuration B**")
            backend_b, top_k_b, where_b = setup_controls(assistant, " (B)", "compare-b")
    run = gr.Button("Compare", variant="primary", elem_id="compare-run")
    diff = gr.Markdown(elem_id="compare-diff")
    with gr.Row():
        with gr.Column():
            shown_a = result_tables("compare-a")
        with gr.Column():
            shown_b = result_tables("compare-b")

    def do_compare(request: gr.Request, text: str, ba: str, ka: float, fa: str, bb: str, kb: float,
                   fb: str) -> tuple[Any, ...]:
        require_staff(request)
        with shown_as_message():
            result = compare(assistant, text, Setup(ba, int(ka), fa), Setup(bb, int(kb), fb))
        return (result["diff"], *[result["a"][k] for k in VIEW_KEYS], *[result["b"][k] for k in VIEW_KEYS])

    inputs = [question, backend_a, top_k_a, where_a, backend_b, top_k_b, where_b]
    outputs = [diff, *[shown_a[k] for k in VIEW_KEYS], *[shown_b[k] for k in VIEW_KEYS]]
    run.click(do_compare, inputs, outputs, **PRIVATE)
    return [where_a, where_b]
