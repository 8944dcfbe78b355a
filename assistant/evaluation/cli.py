"""``knee-assistant eval SUITE.yaml ... --report DIR`` and ``knee-assistant eval compare OLD NEW``.

Exit codes: 0 passed (compare: no regression, or none asked about), 1 a threshold not met (compare with
``--fail-on-regression``: a metric got worse), 2 a broken suite file, a missing report or another input error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assistant.errors import InputError
from assistant.evaluation.dataset import METRICS, SuiteError

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.evaluation.report import Report
    from assistant.evaluation.runner import Target

Targets = Annotated[
    list[str],
    typer.Argument(help="Suite YAML files to run; or the word 'compare' followed by two report.json files or the "
                   "folders --report wrote.", metavar="SUITE.yaml | compare OLD NEW",
                   show_default=False),
]
ReportDir = Annotated[
    Path | None, typer.Option("--report", help="Folder for report.json, report.md and report.html "
                              "(default: <data dir>/eval-report).")
]
Minimums = Annotated[
    list[str] | None,
    typer.Option("--min", metavar="METRIC=VALUE",
                 help=f"Extra threshold on the whole run, repeatable; metrics: {', '.join(METRICS)}."),
]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the index lives (default .knee-data).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary instead of the table.")]
FailOnRegression = Annotated[bool, typer.Option(
    "--fail-on-regression", help="compare: exit 1 when a metric (overall or of a suite in both) got worse.")]
Tolerance = Annotated[float, typer.Option(
    "--tolerance", help="compare: how far a metric may fall before it counts as worse (0.01 = 1 point).")]
Url = Annotated[str | None, typer.Option(
    "--url", help="Ask a served app (http://HOST:PORT/) through its /ask API instead of the index on this machine.")]
PerMinute = Annotated[float, typer.Option(
    "--per-minute", min=0.1, help="--url: questions per minute; keep it at or under the app's ui.rate_limit_per_minute "
    "(the client also waits when the app says so).")]
JudgeProvider = Annotated[str | None, typer.Option(
    "--judge", help="Grade rubric items with a judge model: openai (any OpenAI-compatible server) or ollama "
    "(default: eval.judge settings; none: offline checks).", show_default=False)]
JudgeModel = Annotated[str | None, typer.Option("--judge-model", help="The judge's model name on its server.")]
JudgeUrl = Annotated[str | None, typer.Option("--judge-url", help="The judge server's URL.")]
FAILING_SHOWN = 40


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command to the main CLI."""
    app.command("eval")(evaluate)


def evaluate(
    targets: Targets,
    report: ReportDir = None,
    minimum: Minimums = None,
    data_dir: DataDir = None,
    as_json: JsonOut = False,
    fail_on_regression: FailOnRegression = False,
    tolerance: Tolerance = 0.0,
    url: Url = None,
    per_minute: PerMinute = 10.0,
    judge: JudgeProvider = None,
    judge_model: JudgeModel = None,
    judge_url: JudgeUrl = None,
) -> None:
    """Run scripted Q&A suites and write reports; exit 1 when a threshold is not met (a suite without thresholds:
    when a case fails), 2 for a broken suite file.

    `eval compare OLD NEW` (report.json files or report folders) shows what changed; with --fail-on-regression it
    exits 1 when a metric got worse.
    """
    try:
        if targets[0] == "compare":
            if len(targets) != 3:
                raise typer.BadParameter("usage: eval compare OLD NEW (report.json files or report folders)",
                                         param_hint="TARGETS")
            if not 0.0 <= tolerance <= 1.0:
                raise typer.BadParameter("must be between 0 and 1", param_hint="--tolerance")
            if not _compare(Path(targets[1]), Path(targets[2]), as_json, tolerance) and fail_on_regression:
                raise typer.Exit(1)
            return
        if fail_on_regression or tolerance:
            raise typer.BadParameter("--fail-on-regression and --tolerance belong to `eval compare`")
        passed = run(
            [Path(t) for t in targets], report_dir=report, minimums=parse_minimums(minimum or []),
            data_dir=data_dir, as_json=as_json, url=url, per_minute=per_minute,
            judge={k: v for k, v in (("provider", judge), ("model", judge_model), ("base_url", judge_url)) if v},
        )
    except SuiteError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"{len(exc.problems)} problem(s) in the suite files; nothing was run.", err=True)
        raise typer.Exit(2) from exc
    except InputError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(2) from exc
    if not passed:
        raise typer.Exit(1)


def run(suite_paths: list[Path], *, report_dir: Path | None, minimums: dict[str, float], data_dir: Path | None,
        as_json: bool, url: str | None = None, per_minute: float = 10.0, judge: dict[str, str] | None = None) -> bool:
    from tqdm import tqdm

    from assistant.evaluation.dataset import load_suites
    from assistant.evaluation.report import build_report, write_reports
    from assistant.evaluation.runner import run_suites

    suites = load_suites(suite_paths)  # validate every file before loading the model
    settings = _settings(data_dir, judge or {})
    target = _target(settings, url, per_minute)
    runs = run_suites(target, suites, progress=lambda work: tqdm(work, desc="eval", unit="case", disable=as_json))
    result = build_report(runs, target.index, minimums)
    files = write_reports(result, report_dir or settings.paths.data_dir / "eval-report")
    for suite in result.suites:
        for warning in suite.warnings:
            typer.echo(f"warning: {warning}", err=True)
    if as_json:
        typer.echo(json.dumps({
            "passed": result.passed,
            "checks": [c.model_dump() for c in result.checks],
            "failing_cases": [{"case": f"{c.suite}/{c.id}", "reasons": c.reasons} for c in result.cases
                              if not c.passed],
            "config": result.config,
            "suites": {s.name: {"metrics": s.summary.metrics, "counts": s.summary.counts} for s in result.suites},
            "overall": {"metrics": result.overall.metrics, "counts": result.overall.counts,
                        "latency_ms": result.overall.latency_ms},
            "reports": [str(f) for f in files],
        }, indent=2))
    else:
        _print_summary(result)
        typer.echo(f"reports: {', '.join(str(f) for f in files)}")
    return result.passed


def _settings(data_dir: Path | None, judge: dict[str, str]) -> Settings:
    from pydantic import ValidationError

    from assistant.config import load_settings

    settings = load_settings()
    if data_dir is not None:
        settings.paths.data_dir = data_dir
    if judge:
        try:
            settings.eval.judge = settings.eval.judge.model_validate({**settings.eval.judge.model_dump(), **judge})
        except ValidationError as exc:
            raise InputError(f"--judge: {exc.errors()[0]['msg']} (openai or ollama)") from exc
    return settings


def _target(settings: Settings, url: str | None, per_minute: float) -> Target:
    """The app on ``url``, or the assistant built here from the settings; with the judge they name."""
    from assistant.evaluation.judge import make_judge
    from assistant.evaluation.runner import local_target
    from assistant.prompts import PromptBook

    grader = make_judge(settings.eval.judge, PromptBook(settings.paths.prompts_dir))
    if url:
        from assistant.evaluation.remote import remote_target

        return remote_target(url, settings, per_minute, grader)
    from assistant.container import build_assistant

    return local_target(build_assistant(settings), judge=grader)


def parse_minimums(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        metric, sep, value = item.partition("=")
        metric = metric.strip()
        if not sep or metric not in METRICS:
            raise InputError(f"--min {item!r}: expected METRIC=VALUE with METRIC one of {', '.join(METRICS)}")
        try:
            out[metric] = float(value)
        except ValueError as exc:
            raise InputError(f"--min {item!r}: {value!r} is not a number") from exc
        if not 0.0 <= out[metric] <= 1.0:
            raise InputError(f"--min {item!r}: the value must be between 0 and 1")
    return out


def _print_summary(result: Report) -> None:
    from assistant.evaluation.report import fmt, scopes

    cols = scopes(result)
    width = max(len(m) for m in METRICS) + 2
    typer.echo("".ljust(width) + "".join(n[:12].rjust(13) for n, _ in cols))
    for m in METRICS:
        typer.echo(m.ljust(width) + "".join(fmt(s.metrics.get(m), m != "mrr").rjust(13) for _, s in cols))
    total = result.overall.latency_ms.get("total", {})
    typer.echo(f"latency total: p50 {total.get('p50', 0):.1f} ms, p95 {total.get('p95', 0):.1f} ms; "
               f"{int(result.overall.counts['passed'])}/{len(result.cases)} cases passed")
    failing = [c for c in result.cases if not c.passed]
    if failing:
        typer.echo(f"failing cases ({len(failing)}):")
        for case in failing[:FAILING_SHOWN]:
            typer.echo(f"  {case.suite}/{case.id}: {'; '.join(case.reasons)}")
        if len(failing) > FAILING_SHOWN:
            typer.echo(f"  ... and {len(failing) - FAILING_SHOWN} more (report.md lists them all)")
    for check in result.checks:
        if not check.passed:
            note = f" ({check.note})" if check.note else ""
            typer.echo(f"threshold not met: {check.scope} {check.metric} = {fmt(check.value, False)} "
                       f"< {check.minimum:.2f}{note}", err=True)
    typer.echo(f"gate: {'passed' if result.passed else 'FAILED'}")


def _compare(old: Path, new: Path, as_json: bool, tolerance: float) -> bool:
    """Print the comparison; True when no metric got worse."""
    from assistant.evaluation.compare import compare, render
    from assistant.evaluation.report import read_report

    result = compare(read_report(old), read_report(new), tolerance)
    typer.echo(result.model_dump_json(indent=2) if as_json else render(result))
    if result.worse_metrics and not as_json:
        typer.echo(f"{len(result.worse_metrics)} metric(s) got worse (tolerance {tolerance:g})", err=True)
    return not result.worse_metrics
