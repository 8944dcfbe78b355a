"""Run suite cases through an answering target (turns replayed as history) and score each reply.

A target is the public ``Assistant.ask`` in this process (``local_target``) or a served app's ``/ask`` API
(``remote.remote_target``): the same suites, scorers and reports either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.errors import AssistantError, IngestError
from assistant.evaluation.dataset import Case, Suite
from assistant.evaluation.judge import Judge
from assistant.evaluation.runinfo import ConfigValue, run_configuration
from assistant.evaluation.scorers import PASS_CHECKS, Context, score
from assistant.ingest.load import discover, load
from assistant.prompts import PromptBook
from assistant.rag.service import Assistant
from assistant.schema import Answer, Citation

Progress = Callable[[list[tuple[Suite, Case]]], Iterable[tuple[Suite, Case]]]
Ask = Callable[[str, list[tuple[str, str]] | None], Answer]


@dataclass
class Target:
    """What answers the cases and what scoring needs to judge them."""

    ask: Ask
    context: Context
    config: dict[str, ConfigValue]
    doc_ids: set[str] = field(default_factory=set)
    index: dict[str, Any] = field(default_factory=dict)


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


def system_prompt(prompts_dir: Path) -> str:
    """The hidden system prompt (to catch a reply that leaks it); empty when the prompt files cannot be read."""
    try:
        return PromptBook(prompts_dir).render("llm", "system")
    except AssistantError:
        return ""


def build_context(assistant: Assistant, corpus_dir: Path | None = None, judge: Judge | None = None) -> Context:
    """Citation quotes are checked against the index being evaluated (corpus and staff uploads alike), or against
    the files of ``corpus_dir`` when one is given."""
    system = system_prompt(assistant.settings.paths.prompts_dir)
    if corpus_dir is not None:
        return Context(sources=source_texts(corpus_dir), system_prompt=system, origin=f"the files of {corpus_dir}",
                       embed=assistant.embed, judge=judge)
    return Context(sources=assistant.document_texts(), system_prompt=system, origin="the index",
                   embed=assistant.embed, judge=judge)


def local_target(assistant: Assistant, corpus_dir: Path | None = None, judge: Judge | None = None) -> Target:
    """The assistant in this process, asked through its public ``ask``."""
    config = run_configuration(assistant)
    if judge is not None:
        config["judge"] = judge.label

    def ask(question: str, history: list[tuple[str, str]] | None) -> Answer:
        return assistant.ask(question, history=history)

    status = assistant.index_status()
    return Target(ask=ask, context=build_context(assistant, corpus_dir, judge), config=config,
                  doc_ids={str(d) for d in _doc_ids(status)}, index=status)


def run_suites(
    target: Target | Assistant,
    suites: list[Suite],
    *,
    corpus_dir: Path | None = None,
    progress: Progress | None = None,
) -> list[SuiteRun]:
    """Ask every case, in suite order; a case whose call fails is recorded as failed, the run goes on."""
    if not isinstance(target, Target):
        target = local_target(target, corpus_dir)
    work = [(suite, case) for suite in suites for case in suite.cases]
    results: dict[str, list[CaseResult]] = {s.name: [] for s in suites}
    for suite, case in progress(work) if progress else work:
        results[suite.name].append(run_case(target.ask, suite.name, case, target.context))
    return [
        SuiteRun(name=s.name, path=s.path, thresholds=s.thresholds, cases=results[s.name],
                 warnings=[*_unknown_sources(s, target.doc_ids), *_no_leak_check(s, target.context)],
                 config=target.config)
        for s in suites
    ]


def run_case(ask: Ask, suite: str, case: Case, ctx: Context) -> CaseResult:
    base = {"suite": suite, "id": case.id, "category": case.category, "question": case.final_question,
            "history": case.history, "expected_behavior": case.expected_behavior, "expected_tier": case.expected_tier}
    try:
        answer = ask(case.final_question, case.history or None)
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


def _doc_ids(status: dict[str, Any]) -> list[object]:
    ids = status.get("doc_ids", [])
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
