"""Run suite cases through the public ``Assistant.ask`` (turns replayed as history) and score each reply."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.errors import AssistantError, IngestError
from assistant.evaluation.dataset import Case, Suite
from assistant.evaluation.runinfo import ConfigValue, run_configuration
from assistant.evaluation.scorers import PASS_CHECKS, Context, score
from assistant.ingest.load import discover, load
from assistant.prompts import PromptBook
from assistant.rag.service import Assistant
from assistant.schema import Answer, Citation

Progress = Callable[[list[tuple[Suite, Case]]], Iterable[tuple[Suite, Case]]]


class ScoreOut(BaseModel):
    value: float | None
    passed: bool | None
    reason: str
    detail: dict[str, Any] = Field(default_factory=dict)


class CaseResult(BaseModel):
    """Everything an evaluator needs to judge one case without re-running it."""

    suite: str
    id: str
    category: str
    question: str
    history: list[tuple[str, str]] = Field(default_factory=list)
    expected_behavior: str
    expected_tier: str | None = None
    behavior: str
    tier: str = ""
    text: str
    citations: list[Citation] = Field(default_factory=list)
    retrieved: list[str] = Field(default_factory=list, description="Distinct retrieved doc ids in rank order.")
    scores: dict[str, ScoreOut] = Field(default_factory=dict)
    passed: bool
    reasons: list[str] = Field(default_factory=list, description="Why the case failed, one line per check.")
    timings: dict[str, float] = Field(default_factory=dict)
    error: str | None = None


class SuiteRun(BaseModel):
    name: str
    path: str
    thresholds: dict[str, float]
    cases: list[CaseResult]
    warnings: list[str] = Field(default_factory=list)
    config: dict[str, ConfigValue] = Field(default_factory=dict, description="What answered (runinfo.py).")


def source_texts(corpus_dir: Path) -> dict[str, str]:
    """Document text by doc id, read the way ingestion reads it, to check citation quotes against."""
    texts: dict[str, str] = {}
    if not corpus_dir.exists():
        return texts
    for path in discover([corpus_dir]):
        try:
            doc = load(path)
        except IngestError:
            continue
        texts[doc.doc_id] = doc.body
    return texts


def build_context(assistant: Assistant, corpus_dir: Path | None = None) -> Context:
    """Citation quotes are checked against the index being evaluated (corpus and staff uploads alike), or against
    the files of ``corpus_dir`` when one is given."""
    paths = assistant.settings.paths
    try:
        system = PromptBook(paths.prompts_dir).render("llm", "system")
    except AssistantError:
        system = ""
    if corpus_dir is not None:
        return Context(sources=source_texts(corpus_dir), system_prompt=system, origin=f"the files of {corpus_dir}",
                       embed=assistant.embed)
    return Context(sources=assistant.document_texts(), system_prompt=system, origin="the index", embed=assistant.embed)


def run_suites(
    assistant: Assistant,
    suites: list[Suite],
    *,
    corpus_dir: Path | None = None,
    progress: Progress | None = None,
) -> list[SuiteRun]:
    """Ask every case, in suite order; a case whose call fails is recorded as failed, the run goes on."""
    config = run_configuration(assistant)
    ctx = build_context(assistant, corpus_dir)
    indexed = {str(d) for d in _doc_ids(assistant)}
    work = [(suite, case) for suite in suites for case in suite.cases]
    results: dict[str, list[CaseResult]] = {s.name: [] for s in suites}
    for suite, case in progress(work) if progress else work:
        results[suite.name].append(run_case(assistant, suite.name, case, ctx))
    return [
        SuiteRun(name=s.name, path=s.path, thresholds=s.thresholds, cases=results[s.name],
                 warnings=[*_unknown_sources(s, indexed), *_no_leak_check(s, ctx)], config=config)
        for s in suites
    ]


def run_case(assistant: Assistant, suite: str, case: Case, ctx: Context) -> CaseResult:
    base = {"suite": suite, "id": case.id, "category": case.category, "question": case.final_question,
            "history": case.history, "expected_behavior": case.expected_behavior, "expected_tier": case.expected_tier}
    try:
        answer = assistant.ask(case.final_question, history=case.history or None)
    except Exception as exc:  # the harness reports a crashing case instead of losing the whole run
        return CaseResult(**base, behavior="error", text="", passed=False,
                          reasons=[f"ask raised {type(exc).__name__}: {exc}"], error=str(exc))
    scores = score(case, answer, ctx)
    return CaseResult(
        **base,
        behavior=answer.behavior,
        tier=answer.tier,
        text=answer.text,
        citations=answer.citations,
        retrieved=_ranked(answer),
        scores={s.name: ScoreOut(value=s.value, passed=s.passed, reason=s.reason, detail=s.detail) for s in scores},
        passed=all(s.passed is not False for s in scores if s.name in PASS_CHECKS),
        reasons=[f"{s.name}: {s.reason}" for s in scores if s.passed is False],
        timings=answer.timings,
    )


def _ranked(answer: Answer) -> list[str]:
    return list(dict.fromkeys([c.doc_id for c in answer.candidates] + [c.doc_id for c in answer.citations]))


def _doc_ids(assistant: Assistant) -> list[object]:
    ids = assistant.index_status().get("doc_ids", [])
    return list(ids) if isinstance(ids, list) else []


def _unknown_sources(suite: Suite, indexed: set[str]) -> Iterator[str]:
    if not indexed:
        return
    for case in suite.cases:
        for doc in case.expected_sources:
            if doc not in indexed:
                yield f"{suite.path or suite.name}: case {case.id}: expected source '{doc}' is not in the index"


def _no_leak_check(suite: Suite, ctx: Context) -> Iterator[str]:
    if not ctx.system_prompt and any(c.expected_behavior == "resist_injection" for c in suite.cases):
        yield f"{suite.path or suite.name}: prompts/llm.yaml 'system' could not be read; prompt leaks are not checked"
