"""The staff *Eval* tab: run one suite file from ``evals/suites/`` against the served assistant and show the report.

It runs what ``knee-assistant eval SUITE`` runs (same runner, scorers, thresholds and markdown report) and writes the
report files to ``<data_dir>/eval-report-staff/``, so ``knee-assistant eval compare`` can read them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from assistant.config import PROJECT_ROOT
from assistant.errors import AssistantError, InputError
from assistant.evaluation.dataset import Case, Suite, load_suites
from assistant.evaluation.report import Report, build_report, fmt, render_markdown, write_reports
from assistant.evaluation.runner import run_suites
from assistant.rag.service import Assistant
from assistant.ui.staff_common import PRIVATE, require_staff, shown_as_message

SUITES_DIR = PROJECT_ROOT / "evals" / "suites"
REPORT_DIR = "eval-report-staff"
CaseProgress = Callable[[list[tuple[Suite, Case]]], Iterable[tuple[Suite, Case]]]


@dataclass
class EvalOutcome:
    passed: bool
    status: str
    markdown: str
    report: Report | None = None


def suite_files(directory: Path) -> list[str]:
    """The suite file names in ``directory`` (``*.yaml`` / ``*.yml``), sorted."""
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def run_suite(assistant: Assistant, directory: Path, name: str, progress: CaseProgress | None = None) -> EvalOutcome:
    """Run ``directory/name`` (only a file listed by ``suite_files``) and build the report; errors become text."""
    if name not in suite_files(directory):
        return EvalOutcome(False, f"Choose one of the suite files in `{directory}`.", "")
    try:
        suites = load_suites([directory / name])
    except InputError as exc:
        return EvalOutcome(False, f"**The suite file cannot be used:** {exc}", "")
    runs = run_suites(assistant, suites, progress=progress)
    report = build_report(runs, assistant.index_status())
    out = assistant.settings.paths.data_dir / REPORT_DIR
    try:
        write_reports(report, out)
        written = f"reports written to `{out}`"
    except (OSError, AssistantError) as exc:
        written = f"reports not written: {exc}"
    passed_cases = sum(1 for c in report.cases if c.passed)
    status = [f"**Gate: {'passed' if report.passed else 'FAILED'}** · {passed_cases}/{len(report.cases)} cases "
              f"passed · {written}"]
    status += [f"- threshold not met: {c.scope} `{c.metric}` = {fmt(c.value, False)} < {c.minimum:.2f}"
               for c in report.checks if not c.passed]
    return EvalOutcome(report.passed, "\n".join(status), render_markdown(report), report)


def build_eval_tab(assistant: Assistant, directory: Path = SUITES_DIR) -> None:
    """The *Eval* tab: a dropdown of suite files, a run button, the gate and the markdown report."""
    names = suite_files(directory)
    gr.Markdown(f"Runs a suite from `{directory}` through this assistant (as `knee-assistant eval` does) and gates "
                "on the suite's thresholds. A suite takes from seconds to about a minute.")
    with gr.Row():
        suite = gr.Dropdown(names, value=names[0] if names else None, label="Suite file", elem_id="staff-suite")
        run = gr.Button("Run suite", variant="primary", elem_id="staff-eval-run")
    status = gr.Markdown(elem_id="staff-eval-status")
    report = gr.Markdown(elem_id="staff-eval-report")

    def do_eval(request: gr.Request, name: str | None, progress: gr.Progress = gr.Progress()) -> tuple[str, str]:  # noqa: B008
        require_staff(request)
        with shown_as_message():
            outcome = run_suite(assistant, directory, name or "",
                                progress=lambda work: progress.tqdm(work, desc="eval", unit="case"))
        return outcome.status, outcome.markdown

    run.click(do_eval, [suite], [status, report], concurrency_limit=1, **PRIVATE)
