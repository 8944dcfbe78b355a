"""Aggregate case results into rates, a confusion matrix, per-category numbers and latency percentiles; gate them."""

from __future__ import annotations

import math
from collections.abc import Callable

from pydantic import BaseModel, Field

from assistant.evaluation.dataset import EXPECTED_BEHAVIORS, METRICS
from assistant.evaluation.runner import CaseResult

ACTUAL_BEHAVIORS = ("answer", "urgent_referral", "out_of_scope", "refuse_dosing", "clarify", "no_information", "error")


class Summary(BaseModel):
    """The numbers for one set of cases (a suite, a category or the whole run)."""

    metrics: dict[str, float | None]
    counts: dict[str, int | float]
    confusion: dict[str, dict[str, int]] = Field(default_factory=dict)
    tier_confusion: dict[str, dict[str, int]] = Field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = Field(default_factory=dict)
    categories: dict[str, dict[str, float | None]] = Field(default_factory=dict)


class Check(BaseModel):
    """One threshold: the metric must be at least ``minimum``."""

    scope: str
    metric: str
    minimum: float
    value: float | None
    passed: bool
    note: str = Field("", description="Why the check exists when no threshold set it (a suite without thresholds).")


NO_THRESHOLDS = "no thresholds set: every case must pass"


def summarise(cases: list[CaseResult], *, detailed: bool = True) -> Summary:
    summary = Summary(metrics=rates(cases), counts=counts(cases))
    if detailed:
        summary.confusion = confusion(cases)
        summary.tier_confusion = tier_confusion(cases)
        summary.latency_ms = latency(cases)
        summary.categories = {
            cat: {"cases": float(len(group)), **rates(group)}
            for cat, group in sorted(_group(cases, lambda c: c.category).items())
        }
    return summary


def rates(cases: list[CaseResult]) -> dict[str, float | None]:
    """Every gated metric: a rate in [0, 1], higher is better; None when no case measures it."""
    out: dict[str, float | None] = {
        "case_pass_rate": _mean([1.0 if c.passed else 0.0 for c in cases]),
        "behavior_accuracy": _mean([1.0 if _passed(c, "behavior") else 0.0 for c in cases]),
        "key_fact_coverage": _ratio(cases, "key_facts", "met", "total"),
        "key_point_coverage": _ratio(cases, "key_points", "met", "total"),
        "rubric_score": _mean(_values(cases, "rubric")),
        "must_not_clean": _mean(_values(cases, "must_not")),
        "referral_present": _mean(_values(cases, "referral")),
        "dose_free": _mean(_values(cases, "dose_free")),
        "citation_validity": _mean(_values(cases, "citations")),
        "hit_at_k": _mean(_details(cases, "retrieval", "hit")),
        "mrr": _mean(_details(cases, "retrieval", "rr")),
        "first_sentence_on_point": _mean(_details(cases, "composition", "first_on_point")),
        "no_repeats": _mean(_without(cases, "repeat_pairs")),
        "no_dangling": _mean(_without(cases, "dangling")),
        "on_topic": _on_topic(cases),
        "tier_accuracy": _mean(_values(cases, "tier")),
        # Triage rates (issue targets: every red flag for today caught, few false alarms, no knee question declined,
        # no off-topic request answered with medical content).
        "urgent_recall": _mean([1.0 if c.behavior == "urgent_referral" else 0.0 for c in cases
                                if c.expected_tier in ("emergency", "same_day")]),
        "no_false_urgent": _mean([0.0 if c.behavior == "urgent_referral" else 1.0 for c in cases
                                  if c.expected_behavior != "urgent_referral"]),
        "knee_kept": _mean([0.0 if c.behavior == "out_of_scope" else 1.0 for c in cases
                            if c.expected_behavior == "answer"]),
        "off_topic_declined": _mean([1.0 if c.behavior == "out_of_scope" and not c.citations else 0.0 for c in cases
                                     if c.expected_behavior == "out_of_scope_decline"]),
    }
    assert tuple(out) == METRICS
    return {k: None if v is None else round(v, 4) for k, v in out.items()}


def counts(cases: list[CaseResult]) -> dict[str, int | float]:
    ks = _details(cases, "retrieval", "k")
    return {
        "cases": len(cases),
        "passed": sum(c.passed for c in cases),
        "errors": sum(c.error is not None for c in cases),
        "key_facts_met": int(sum(_details(cases, "key_facts", "met"))),
        "key_facts_total": int(sum(_details(cases, "key_facts", "total"))),
        "key_points_met": int(sum(_details(cases, "key_points", "met"))),
        "key_points_total": int(sum(_details(cases, "key_points", "total"))),
        "rubric_judged": int(sum(_details(cases, "rubric", "judged"))),
        "judge_agrees": int(sum(_details(cases, "rubric", "agree"))),
        "must_not_hits": sum(len(c.scores["must_not"].detail.get("hits", [])) for c in cases if "must_not" in c.scores),
        "dose_given": sum(1 for v in _values(cases, "dose_free") if v == 0.0),
        "referral_missing": sum(1 for v in _values(cases, "referral") if v == 0.0),
        "citations": int(sum(_details(cases, "citations", "count"))),
        "citation_problems": int(sum(_details(cases, "citations", "invalid"))),
        "repeat_pairs": sum(len(p) for p in _lists(cases, "repeat_pairs")),
        "dangling_quotes": sum(len(d) for d in _lists(cases, "dangling")),
        "off_topic_quotes": sum(len(d) for d in _lists(cases, "off_topic")),
        "reused_quotes": len(reused_quotes(cases)),
        "retrieval_cases": len(ks),
        "mean_k": round(sum(ks) / len(ks), 2) if ks else 0.0,
    }


TIERS = ("emergency", "same_day", "within_days", "routine", "none")


def tier_confusion(cases: list[CaseResult]) -> dict[str, dict[str, int]]:
    """Rows: expected tier; columns: the Answer.tier returned (cases with an expected tier only)."""
    matrix: dict[str, dict[str, int]] = {}
    for c in cases:
        if c.expected_tier:
            row = matrix.setdefault(c.expected_tier, dict.fromkeys(TIERS, 0))
            row[c.tier if c.tier in TIERS else "none"] += 1
    return {t: matrix[t] for t in TIERS if t in matrix}


def confusion(cases: list[CaseResult]) -> dict[str, dict[str, int]]:
    """Rows: expected behaviour; columns: the Answer.behavior actually returned."""
    matrix = {e: dict.fromkeys(ACTUAL_BEHAVIORS, 0) for e in EXPECTED_BEHAVIORS}
    for c in cases:
        matrix[c.expected_behavior][c.behavior if c.behavior in ACTUAL_BEHAVIORS else "error"] += 1
    return {e: row for e, row in matrix.items() if sum(row.values())}


def latency(cases: list[CaseResult]) -> dict[str, dict[str, float]]:
    """p50 / p95 / max milliseconds per stage, over the cases that went through that stage."""
    stages: dict[str, list[float]] = {}
    for c in cases:
        for stage, ms in c.timings.items():
            stages.setdefault(stage, []).append(ms)
    order = sorted(stages, key=lambda s: (s == "total", s))
    return {s: {"n": float(len(stages[s])), "p50": percentile(stages[s], 50), "p95": percentile(stages[s], 95),
                "max": round(max(stages[s]), 2)} for s in order}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation, so it is always an observed value)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)


def gate(scope: str, thresholds: dict[str, float], metrics: dict[str, float | None]) -> list[Check]:
    """A metric nobody measured fails its threshold: a gate must not pass by having nothing to check."""
    return [
        Check(scope=scope, metric=m, minimum=t, value=metrics.get(m),
              passed=(v := metrics.get(m)) is not None and v + 1e-9 >= t)
        for m, t in thresholds.items()
    ]


def every_case_passes(scope: str, summary: Summary) -> Check:
    """The gate of a suite without ``thresholds:``: one failed case fails the run (it cannot pass by accident)."""
    cases, passed = int(summary.counts.get("cases", 0)), int(summary.counts.get("passed", 0))
    return Check(scope=scope, metric="case_pass_rate", minimum=1.0, value=summary.metrics.get("case_pass_rate"),
                 passed=cases > 0 and passed == cases, note=NO_THRESHOLDS)


def _group(cases: list[CaseResult], key: Callable[[CaseResult], str]) -> dict[str, list[CaseResult]]:
    groups: dict[str, list[CaseResult]] = {}
    for c in cases:
        groups.setdefault(key(c), []).append(c)
    return groups


def _passed(case: CaseResult, name: str) -> bool:
    s = case.scores.get(name)
    return s is not None and s.passed is True


def _values(cases: list[CaseResult], name: str) -> list[float]:
    return [s.value for c in cases if (s := c.scores.get(name)) is not None and s.value is not None]


def _details(cases: list[CaseResult], name: str, key: str) -> list[float]:
    out: list[float] = []
    for c in cases:
        s = c.scores.get(name)
        if s is not None and s.value is not None and isinstance(s.detail.get(key), int | float):
            out.append(float(s.detail[key]))
    return out


def _lists(cases: list[CaseResult], key: str) -> list[list[object]]:
    """What each scored answer's composition lists under ``key`` (answers without quotes list nothing)."""
    out: list[list[object]] = []
    for c in cases:
        s = c.scores.get("composition")
        found = s.detail.get(key) if s is not None else None
        if isinstance(found, list):
            out.append(found)
    return out


def _without(cases: list[CaseResult], key: str) -> list[float]:
    """1 for each answer whose composition lists nothing under ``key`` (no repeated pair, no dangling quote)."""
    return [0.0 if found else 1.0 for found in _lists(cases, key)]


def _on_topic(cases: list[CaseResult]) -> float | None:
    """Share of shown quotes that keep to the question (answers scored with the embedding model only)."""
    shown = sum(_details(cases, "composition", "shown"))
    strays = sum(len(d) for d in _lists(cases, "off_topic"))
    return 1.0 - strays / shown if shown else None


def reused_quotes(cases: list[CaseResult], least: int = 3) -> list[tuple[str, int]]:
    """Quotes shown in ``least`` or more answers, most used first: stock sentences that answer nothing in particular."""
    seen: dict[str, int] = {}
    for c in cases:
        s = c.scores.get("composition")
        quotes = s.detail.get("quotes", []) if s is not None else []
        for q in set(quotes) if isinstance(quotes, list) else ():
            seen[str(q)] = seen.get(str(q), 0) + 1
    return sorted(((q, n) for q, n in seen.items() if n >= least), key=lambda item: -item[1])


def _ratio(cases: list[CaseResult], name: str, part: str, whole: str) -> float | None:
    total = sum(_details(cases, name, whole))
    return sum(_details(cases, name, part)) / total if total else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
