"""Compare two report.json files case by case: what got worse, what got better, what came and went."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.evaluation.dataset import METRICS
from assistant.evaluation.report import Report, fmt
from assistant.evaluation.runner import CaseResult

# Checks whose pass/fail flip is a change worth listing, in the order they are reported.
CHECKS = ("behavior", "key_facts", "must_not", "referral", "dose_free", "citations", "retrieval")


class Change(BaseModel):
    case: str
    kind: str = Field(description="regression or improvement")
    details: list[str]


class Comparison(BaseModel):
    regressions: list[Change] = Field(default_factory=list)
    improvements: list[Change] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    metrics: dict[str, dict[str, float | None]] = Field(default_factory=dict)


def compare(old: Report, new: Report) -> Comparison:
    before = {f"{c.suite}/{c.id}": c for c in old.cases}
    after = {f"{c.suite}/{c.id}": c for c in new.cases}
    result = Comparison(added=sorted(set(after) - set(before)), removed=sorted(set(before) - set(after)))
    for key in [k for k in after if k in before]:
        worse, better = _diff(before[key], after[key])
        if worse:
            result.regressions.append(Change(case=key, kind="regression", details=worse))
        if better:
            result.improvements.append(Change(case=key, kind="improvement", details=better))
    result.metrics = {m: {"old": old.overall.metrics.get(m), "new": new.overall.metrics.get(m)} for m in METRICS}
    return result


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


def render(result: Comparison) -> str:
    lines = [f"{len(result.regressions)} regressions, {len(result.improvements)} improvements, "
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
        if old is None or new is None:
            delta = ""
        else:
            delta = f" ({new - old:+.3f})" if metric == "mrr" else f" ({(new - old) * 100:+.1f} pts)"
        lines.append(f"  {metric}: {fmt(old, metric != 'mrr')} -> {fmt(new, metric != 'mrr')}{delta}")
    return "\n".join(lines)
