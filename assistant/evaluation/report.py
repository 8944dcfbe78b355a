"""The evaluation report: one model, written as report.json, report.md and a self-contained report.html."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.errors import InputError
from assistant.evaluation.dataset import METRICS
from assistant.evaluation.metrics import Check, Summary, every_case_passes, gate, reused_quotes, summarise
from assistant.evaluation.runinfo import ConfigValue
from assistant.evaluation.runner import CaseResult, SuiteRun

FORMAT = 1


class SuiteReport(BaseModel):
    name: str
    path: str
    thresholds: dict[str, float]
    summary: Summary
    warnings: list[str] = Field(default_factory=list)


class Report(BaseModel):
    """Everything a run measured; ``compare`` reads two of these back."""

    format: int = FORMAT
    created: str
    index: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, ConfigValue] = Field(default_factory=dict, description="Settings, backend, corpus, commit.")
    passed: bool
    checks: list[Check]
    suites: list[SuiteReport]
    overall: Summary
    cases: list[CaseResult]


def build_report(runs: list[SuiteRun], index: dict[str, Any], minimums: dict[str, float] | None = None,
                 config: dict[str, ConfigValue] | None = None) -> Report:
    """Summaries per suite and overall; suite thresholds gate their suite, ``minimums`` (--min) the whole run.

    A suite without thresholds is gated on every case passing. ``config`` defaults to what the runs recorded.
    """
    suites = [SuiteReport(name=r.name, path=r.path, thresholds=r.thresholds, summary=summarise(r.cases),
                          warnings=r.warnings) for r in runs]
    all_cases = [c for r in runs for c in r.cases]
    overall = summarise(all_cases)
    checks = [check for s in suites
              for check in (gate(s.name, s.thresholds, s.summary.metrics) if s.thresholds
                            else [every_case_passes(s.name, s.summary)])]
    checks += gate("overall", minimums or {}, overall.metrics)
    return Report(
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        index={k: index[k] for k in ("documents", "chunks", "versions") if k in index},
        config=config if config is not None else (runs[0].config if runs else {}),
        passed=all(c.passed for c in checks),
        checks=checks,
        suites=suites,
        overall=overall,
        cases=all_cases,
    )


def write_reports(report: Report, directory: Path) -> list[Path]:
    from assistant.evaluation.html import render_html

    directory.mkdir(parents=True, exist_ok=True)
    files = {"report.json": report.model_dump_json(indent=2), "report.md": render_markdown(report),
             "report.html": render_html(report)}
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return [directory / name for name in files]


def read_report(path: Path) -> Report:
    """A report.json, or the folder ``--report`` wrote it to; any problem is an ``InputError``."""
    file = path / "report.json" if path.is_dir() else path
    try:
        return Report.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise InputError(f"{file}: no such report (give a report.json or the folder --report wrote)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot be read: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise InputError(f"{file}: not an evaluation report.json ({str(exc).splitlines()[0]})") from exc


def fmt(value: float | None, percent: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.1f}%" if percent else f"{value:.3f}"


def scopes(report: Report) -> list[tuple[str, Summary]]:
    """Each suite, plus the overall column when there is more than one suite."""
    out = [(s.name, s.summary) for s in report.suites]
    return [*out, ("overall", report.overall)] if len(out) > 1 else out


def render_markdown(report: Report) -> str:
    cols = scopes(report)
    lines = [f"# Evaluation report ({report.created})", "",
             f"**Gate: {'PASSED' if report.passed else 'FAILED'}** - {len(report.cases)} cases, "
             f"index of {report.index.get('documents', '?')} documents / {report.index.get('chunks', '?')} chunks.", ""]
    failed = [c for c in report.cases if not c.passed]
    lines += [f"## Failing cases ({len(failed)})", ""]
    lines += [f"- **{c.suite}/{c.id}** ({c.category}) {_one_line(c.question)}: {'; '.join(c.reasons)}" for c in failed]
    lines += ["", "## Metrics", ""]
    lines += _table(["metric", *[n for n, _ in cols]],
                    [[m, *[fmt(s.metrics.get(m), m != "mrr") for _, s in cols]] for m in METRICS])
    lines += ["", "## Counts", ""]
    keys = list(cols[0][1].counts)
    lines += _table(["count", *[n for n, _ in cols]], [[k, *[_num(s.counts.get(k, 0)) for _, s in cols]] for k in keys])
    judged = int(report.overall.counts.get("rubric_judged", 0))
    agree = int(report.overall.counts.get("judge_agrees", 0))
    if judged:
        lines += ["", "## Judge", "", f"The judge ({_value(report.config.get('judge'))}) graded {judged} rubric items "
                  f"and agreed with the offline check on {agree} ({agree / judged:.0%})."]
    reused = reused_quotes(report.cases)
    if reused:
        lines += ["", f"## Quotes shown in 3 or more answers ({len(reused)})", ""]
        lines += [f"- {n} answers: {_one_line(q, 140)}" for q, n in reused[:15]]
    if report.checks:
        lines += ["", "## Thresholds", ""]
        lines += _table(["scope", "metric", "minimum", "measured", "result"],
                        [[c.scope, c.metric, f"{c.minimum:.2f}", fmt(c.value, False),
                          ("ok" if c.passed else "FAILED") + (f" ({c.note})" if c.note else "")]
                         for c in report.checks])
    if report.config:
        lines += ["", "## Configuration", ""]
        lines += _table(["setting", "value"], [[k, _value(v)] for k, v in report.config.items()])
    for name, summary in cols:
        lines += ["", f"## {name}", "", "Confusion (rows: expected, columns: returned behaviour)", ""]
        actual = [a for a in _columns(summary)]
        lines += _table(["expected", *actual], [[e, *[str(row[a]) for a in actual]]
                                                for e, row in summary.confusion.items()])
        if summary.tier_confusion:
            tiers = list(next(iter(summary.tier_confusion.values())))
            lines += ["", "Tier confusion (rows: expected, columns: returned tier)", ""]
            lines += _table(["expected", *tiers], [[e, *[str(row[t]) for t in tiers]]
                                                   for e, row in summary.tier_confusion.items()])
        lines += ["", "Latency (ms)", ""]
        lines += _table(["stage", "n", "p50", "p95", "max"],
                        [[st, _num(v["n"]), f"{v['p50']:.1f}", f"{v['p95']:.1f}", f"{v['max']:.1f}"]
                         for st, v in summary.latency_ms.items()])
        lines += ["", "By category", ""]
        lines += _table(["category", "cases", "pass", "behaviour", "key facts", "key points"],
                        [[cat, _num(v["cases"] or 0), fmt(v["case_pass_rate"]), fmt(v["behavior_accuracy"]),
                          fmt(v["key_fact_coverage"]), fmt(v["key_point_coverage"])]
                         for cat, v in summary.categories.items()])
    warnings = [w for s in report.suites for w in s.warnings]
    if warnings:
        lines += ["", "## Warnings", "", *[f"- {w}" for w in warnings]]
    return "\n".join(lines) + "\n"


def _columns(summary: Summary) -> list[str]:
    present = {a for row in summary.confusion.values() for a, n in row.items() if n}
    first = next(iter(summary.confusion.values()), {})
    return [a for a in first if a in present]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    cells = [[x.replace("|", "\\|") for x in r] for r in rows]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *["| " + " | ".join(r) + " |" for r in cells]]


def _value(value: ConfigValue) -> str:
    return "-" if value is None else str(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _one_line(text: str, limit: int = 90) -> str:
    flat = " ".join(text.split())
    return f"\"{flat[:limit]}{'...' if len(flat) > limit else ''}\""
