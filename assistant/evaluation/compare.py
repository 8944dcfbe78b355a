"""Compare two evaluation reports: what answered each (configuration), the metrics side by side, and case by case
what got worse, what got better, what came and went. ``regressions`` of the metrics are what ``--fail-on-regression``
fails on."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.evaluation.dataset import METRICS
from assistant.evaluation.report import Report, fmt
from assistant.evaluation.runinfo import ConfigValue
from assistant.evaluation.runner import CaseResult

# Checks whose pass/fail flip is a change worth listing, in the order they are reported.
CHECKS = ("behavior", "key_facts", "must_not", "referral", "dose_free", "citations", "retrieval")
ALWAYS_SHOWN = ("commit", "created")
NOT_RECORDED = "(not recorded)"


class Change(BaseModel):
    case: str
    kind: str = Field(description="regression or improvement")
    details: list[str]


class MetricChange(BaseModel):
    scope: str = Field(description="'overall' or a suite name")
    metric: str
    old: float | None
    new: float | None


class Comparison(BaseModel):
    config: dict[str, dict[str, ConfigValue]] = Field(
        default_factory=dict, description="Setting -> {old, new}: the commit and date, then only what differs.")
    regressions: list[Change] = Field(default_factory=list)
    improvements: list[Change] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    metrics: dict[str, dict[str, float | None]] = Field(default_factory=dict)
    new_metrics: list[str] = Field(default_factory=list, description="Measured only by the new report.")
    removed_metrics: list[str] = Field(default_factory=list, description="Measured only by the old report.")
    worse_metrics: list[MetricChange] = Field(
        default_factory=list, description="Metrics (overall and per suite in both reports) lower than before.")


def compare(old: Report, new: Report, tolerance: float = 0.0) -> Comparison:
    """Everything that differs between ``old`` and ``new``; a metric is worse when it fell by more than
    ``tolerance`` (absolute, in the metric's own units) or is no longer measured."""
    before = {f"{c.suite}/{c.id}": c for c in old.cases}
    after = {f"{c.suite}/{c.id}": c for c in new.cases}
    result = Comparison(config=config_diff(old, new), added=sorted(set(after) - set(before)),
                        removed=sorted(set(before) - set(after)))
    for key in [k for k in after if k in before]:
        worse, better = _diff(before[key], after[key])
        if worse:
            result.regressions.append(Change(case=key, kind="regression", details=worse))
        if better:
            result.improvements.append(Change(case=key, kind="improvement", details=better))
    names = _metric_names(old.overall.metrics, new.overall.metrics)
    result.metrics = {m: {"old": old.overall.metrics.get(m), "new": new.overall.metrics.get(m)} for m in names}
    result.new_metrics = [m for m in names if m not in old.overall.metrics]
    result.removed_metrics = [m for m in names if m not in new.overall.metrics]
    scopes = [("overall", old.overall.metrics, new.overall.metrics)]
    old_suites = {s.name: s.summary.metrics for s in old.suites}
    scopes += [(s.name, old_suites[s.name], s.summary.metrics) for s in new.suites if s.name in old_suites]
    for scope, was, now in scopes:
        for metric in [m for m in was if m in now]:
            a, b = was[metric], now[metric]
            if a is not None and (b is None or b < a - tolerance - 1e-9):
                result.worse_metrics.append(MetricChange(scope=scope, metric=metric, old=a, new=b))
    return result


def config_diff(old: Report, new: Report) -> dict[str, dict[str, ConfigValue]]:
    """The commit and the date of both runs, then every recorded setting that differs."""
    a: dict[str, ConfigValue] = {"created": old.created, **old.config}
    b: dict[str, ConfigValue] = {"created": new.created, **new.config}
    keys = list(ALWAYS_SHOWN) + [k for k in dict.fromkeys([*a, *b]) if k not in ALWAYS_SHOWN]
    return {k: {"old": a.get(k, NOT_RECORDED), "new": b.get(k, NOT_RECORDED)}
            for k in keys if k in ALWAYS_SHOWN or a.get(k, NOT_RECORDED) != b.get(k, NOT_RECORDED)}


def _metric_names(old: dict[str, float | None], new: dict[str, float | None]) -> list[str]:
    extra = [m for m in dict.fromkeys([*old, *new]) if m not in METRICS]
    return [m for m in METRICS if m in old or m in new] + extra


def _diff(old: CaseResult, new: CaseResult) -> tuple[list[str], list[str]]:
    worse: list[str] = []
    better: list[str] = []
    for name in CHECKS:
        a, b = old.scores.get(name), new.scores.get(name)
        was = a.passed if a else None
        now = b.passed if b else None
        if was is None and now is None:
            continue
        line = f"{name}: {_label(old, name)} -> {_label(new, name)}"
        if was is True and now is False:
            worse.append(line)
        elif was is False and now is True:
            better.append(line)
        elif a and b and a.value is not None and b.value is not None and abs(a.value - b.value) > 1e-9:
            (worse if b.value < a.value else better).append(line)
    return worse, better


def _label(case: CaseResult, name: str) -> str:
    s = case.scores.get(name)
    if name == "behavior":
        return case.behavior
    if s is None:
        return "n/a"
    return s.reason


def _show(value: ConfigValue) -> str:
    return "-" if value is None else str(value)


def render(result: Comparison) -> str:
    lines = ["Configuration (the commit and date, then only the settings that differ):"]
    width = max([len(k) for k in result.config] + [7]) + 2
    old_width = max([len(_show(v["old"])) for v in result.config.values()] + [3]) + 2
    lines.append("  " + "".ljust(width) + "old".ljust(old_width) + "new")
    for key, values in result.config.items():
        lines.append("  " + key.ljust(width) + _show(values["old"]).ljust(old_width) + _show(values["new"]))
    if not set(result.config) - set(ALWAYS_SHOWN):
        lines.append("  (no recorded setting differs)")
    lines += ["", f"{len(result.regressions)} regressions, {len(result.improvements)} improvements, "
              f"{len(result.added)} new cases, {len(result.removed)} removed cases"]
    for title, changes in (("Regressions", result.regressions), ("Improvements", result.improvements)):
        if changes:
            lines += ["", f"{title}:"]
            for change in changes:
                lines.append(f"  {change.case}")
                lines += [f"    {d}" for d in change.details]
    if result.added:
        lines += ["", "New cases: " + ", ".join(result.added)]
    if result.removed:
        lines += ["", "Removed cases: " + ", ".join(result.removed)]
    lines += ["", "Overall metrics (old -> new):"]
    for metric, pair in result.metrics.items():
        old, new = pair["old"], pair["new"]
        percent = metric != "mrr"
        if metric in result.new_metrics:
            lines.append(f"  {metric}: new metric, {fmt(new, percent)}")
            continue
        if metric in result.removed_metrics:
            lines.append(f"  {metric}: removed metric (was {fmt(old, percent)})")
            continue
        delta = "" if old is None or new is None else (
            f" ({new - old:+.3f})" if not percent else f" ({(new - old) * 100:+.1f} pts)")
        lines.append(f"  {metric}: {fmt(old, percent)} -> {fmt(new, percent)}{delta}")
    if result.worse_metrics:
        lines += ["", "Metrics that got worse:"]
        lines += [f"  {w.scope} {w.metric}: {fmt(w.old, w.metric != 'mrr')} -> {fmt(w.new, w.metric != 'mrr')}"
                  for w in result.worse_metrics]
    return "\n".join(lines)
