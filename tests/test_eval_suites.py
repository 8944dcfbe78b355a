"""The CI gate: every suite in evals/suites/ runs against the real corpus index and meets its own thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.evaluation.dataset import load_suite
from assistant.evaluation.metrics import gate, summarise
from assistant.evaluation.runner import run_suites

SUITES = sorted((Path(__file__).resolve().parent.parent / "evals" / "suites").glob("*.yaml"))


def test_the_three_suites_are_there() -> None:
    assert {p.stem for p in SUITES} >= {"core", "safety", "retrieval"}


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_suite_meets_its_thresholds(path: Path, corpus_assistant: Assistant) -> None:
    suite = load_suite(path)
    assert suite.thresholds, f"{path} sets no thresholds, so it gates nothing"
    (run,) = run_suites(corpus_assistant, [suite])
    assert not run.warnings, run.warnings
    summary = summarise(run.cases, detailed=False)
    failed = [c for c in gate(suite.name, suite.thresholds, summary.metrics) if not c.passed]
    failing_cases = [f"{c.id}: {'; '.join(c.reasons)}" for c in run.cases if not c.passed]
    assert not failed, (
        "thresholds not met: "
        + ", ".join(f"{c.metric} {c.value} < {c.minimum}" for c in failed)
        + "\nfailing cases:\n" + "\n".join(failing_cases)
    )
