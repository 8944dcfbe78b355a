"""Eval suites as data: pydantic models for YAML suite files, loaded with errors naming file, case and field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.errors import InputError

ExpectedBehavior = Literal[
    "answer", "urgent_referral", "out_of_scope_decline", "refuse_dosing", "resist_injection", "clarify"
]
EXPECTED_BEHAVIORS: tuple[str, ...] = ExpectedBehavior.__args__  # type: ignore[attr-defined]
ExpectedTier = Literal["emergency", "same_day", "within_days", "routine", "none"]

# Every gated metric is a rate in [0, 1] where higher is better, so a threshold is always a minimum.
METRICS: tuple[str, ...] = (
    "case_pass_rate",
    "behavior_accuracy",
    "key_fact_coverage",
    "key_point_coverage",
    "rubric_score",
    "must_not_clean",
    "referral_present",
    "dose_free",
    "citation_validity",
    "hit_at_k",
    "mrr",
    "first_sentence_on_point",
    "no_repeats",
    "no_dangling",
    "on_topic",
    "tier_accuracy",
    "urgent_recall",
    "no_false_urgent",
    "knee_kept",
    "off_topic_declined",
)


class Turn(BaseModel):
    """One turn of a scripted conversation, written in YAML as ``{user: "..."}`` or ``{assistant: "..."}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["user", "assistant"]
    text: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        if isinstance(data, dict) and len(data) == 1 and "role" not in data:
            ((role, text),) = data.items()
            return {"role": role, "text": text}
        if isinstance(data, dict) and "role" in data:
            return data
        raise ValueError("each turn must be a mapping with one key, 'user' or 'assistant', e.g. {user: \"...\"}")


class RubricItem(BaseModel):
    """One graded statement about a reply, HealthBench style: ``points`` > 0 rewards it, < 0 penalises it.

    A judge model grades ``criterion``; without one, the offline checks do: the meaning of ``criterion`` against the
    reply's sentences, or the words of ``match`` ('|'-separated alternatives) found in the reply.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    criterion: str = Field(min_length=3)
    points: int = Field(description="Positive for what a good reply does, negative for what it must not do.")
    match: str = Field("", description="Optional word alternatives for the offline check, as in must_mention.")

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0 or abs(value) > 10:
            raise ValueError("points must be between -10 and 10 and not 0")
        return value


class Case(BaseModel):
    """One scripted question (or conversation) and what a good reply must and must not do."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    category: str = "uncategorised"
    question: str | None = Field(None, min_length=1)
    turns: list[Turn] | None = Field(None, min_length=1)
    expected_behavior: ExpectedBehavior
    must_mention: list[str] = Field(default_factory=list)
    must_not: list[str] = Field(default_factory=list)
    key_points: list[str] = Field(default_factory=list, description="Statements a good reply conveys, by meaning.")
    rubric: list[RubricItem] = Field(default_factory=list)
    expected_sources: list[str] = Field(default_factory=list)
    expected_tier: ExpectedTier | None = None
    # Notes a test writer keeps for reviewers; never scored.
    about: str = ""
    length: str = ""
    red_flag: str = ""
    expected_pointer: str = ""
    rationale: str = ""
    asks: list[str] = Field(default_factory=list)
    verdict: str = ""
    language: str = ""
    supported: bool | None = None
    english_gloss: str = ""

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("key_points")
    @classmethod
    def _statements(cls, items: list[str]) -> list[str]:
        for item in items:
            if len(item.split()) < 3:
                raise ValueError(f"key point {item!r} is not a statement (write what a good reply conveys)")
        return items

    @field_validator("must_mention", "must_not")
    @classmethod
    def _alternatives(cls, items: list[str]) -> list[str]:
        for item in items:
            if not [alt for alt in item.split("|") if alt.strip()]:
                raise ValueError(f"item {item!r} has no alternative to look for")
        return items

    @model_validator(mode="after")
    def _question_or_turns(self) -> Case:
        if (self.question is None) == (self.turns is None):
            raise ValueError("give exactly one of 'question' or 'turns'")
        if self.turns is not None and self.turns[-1].role != "user":
            raise ValueError("the last of 'turns' must be a user turn (it is the question asked)")
        return self

    @property
    def final_question(self) -> str:
        """What is asked: ``question``, or the last user turn."""
        if self.turns:
            return self.turns[-1].text
        return self.question or ""

    @property
    def history(self) -> list[tuple[str, str]]:
        """The turns before the question, as the ``history`` the public API takes."""
        return [(t.role, t.text) for t in (self.turns or [])[:-1]]


class Suite(BaseModel):
    """A named set of cases with optional minimum values for the gated metrics."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    path: str = ""
    thresholds: dict[str, float] = Field(default_factory=dict)
    cases: list[Case] = Field(min_length=1)


class _RawSuite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    # Provenance of a frozen test set (evals/suites/frozen/README.md); never scored.
    frozen: str = ""
    written_by: str = ""
    note: str = ""
    thresholds: dict[str, float] = Field(default_factory=dict)
    cases: list[Any] = Field(min_length=1)

    @field_validator("thresholds")
    @classmethod
    def _known_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        problems = []
        for metric, minimum in value.items():
            if metric not in METRICS:
                known = ", ".join(METRICS)
                problems.append(f"unknown metric '{metric}' (known: {known}){did_you_mean(metric, METRICS)}")
            elif not 0.0 <= minimum <= 1.0:
                problems.append(f"'{metric}' must be between 0 and 1, got {minimum}")
        if problems:
            raise ValueError("; ".join(problems))
        return value


class SuiteError(InputError):
    """Every problem found in one or more suite files, one line each naming file, case and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_suite(path: Path) -> Suite:
    """Read and validate one suite file; its problems, all of them, are a ``SuiteError``."""
    if not path.is_file():
        raise SuiteError([f"{path}: no such suite file"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SuiteError([f"{path}: not valid YAML: {' '.join(str(exc).split())}"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError([f"{path}: cannot be read: {exc}"]) from exc
    if not isinstance(data, dict):
        raise SuiteError([f"{path}: expected a mapping with 'name' and 'cases'"])
    problems: list[str] = []
    raw: _RawSuite | None = None
    try:
        raw = _RawSuite.model_validate(data)
    except ValidationError as exc:
        problems += [f"{path}: {p}" for p in describe(exc, _RawSuite.model_fields)]
    items: list[Any] = data["cases"] if isinstance(data.get("cases"), list) else []
    cases: list[Case] = []
    seen: set[str] = set()
    for number, item in enumerate(items, start=1):
        has_id = isinstance(item, dict) and item.get("id") is not None
        label = f"case {item['id']}" if has_id else f"case #{number} (no id)"
        if not isinstance(item, dict):
            problems.append(f"{path}: {label}: expected a mapping of fields (id, question, expected_behavior, ...)")
            continue
        try:
            cases.append(Case.model_validate(item))
        except ValidationError as exc:
            problems += [f"{path}: {label}: {p}" for p in describe(exc, Case.model_fields)]
        if has_id and str(item["id"]) in seen:
            problems.append(f"{path}: {label}: field 'id': duplicate id")
        seen.add(str(item.get("id")))
    if problems or raw is None:
        raise SuiteError(problems)
    return Suite(name=raw.name, path=str(path), thresholds=raw.thresholds, cases=cases)


def load_suites(paths: list[Path]) -> list[Suite]:
    """Every file loaded; the problems of all of them are raised together."""
    suites: list[Suite] = []
    problems: list[str] = []
    for path in paths:
        try:
            suites.append(load_suite(path))
        except SuiteError as exc:
            problems += exc.problems
    names = [s.name for s in suites]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        problems.append(f"suite names must be unique across the run; repeated: {', '.join(duplicated)}")
    if problems:
        raise SuiteError(problems)
    return suites


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest known word, or nothing."""
    close = get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def describe(exc: ValidationError, fields: Iterable[str]) -> list[str]:
    """Every problem as ``field 'a.b': message`` (pydantic's wording, minus its prefixes), with "did you mean".

    A misspelt field is one problem (unknown field, did you mean the real one), not also "required field missing".
    """
    known = list(fields)
    errors = exc.errors()
    guesses: dict[str, str] = {}
    for err in errors:
        if err["type"] == "extra_forbidden" and len(err["loc"]) == 1:
            close = get_close_matches(str(err["loc"][0]), known, n=1, cutoff=0.6)
            if close:
                guesses[str(err["loc"][0])] = close[0]
    out: list[str] = []
    for err in errors:
        loc = ".".join(str(part) for part in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field" + (f"; did you mean '{guesses[loc]}'?" if loc in guesses else "")
        elif err["type"] == "missing":
            if loc in guesses.values():
                continue  # reported as its misspelling
            message = "required field is missing"
        elif err["type"] == "literal_error" and isinstance(err.get("input"), str):
            allowed = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
            message += did_you_mean(err["input"], allowed)
        out.append(f"field '{loc}': {message}" if loc else message)
    return out
