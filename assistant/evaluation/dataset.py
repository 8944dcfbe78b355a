"""Eval suites as data: pydantic models for YAML suite files, loaded with errors naming file, case and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.errors import InputError

ExpectedBehavior = Literal[
    "answer", "urgent_referral", "out_of_scope_decline", "refuse_dosing", "resist_injection", "clarify"
]
EXPECTED_BEHAVIORS: tuple[str, ...] = ExpectedBehavior.__args__  # type: ignore[attr-defined]

# Every gated metric is a rate in [0, 1] where higher is better, so a threshold is always a minimum.
METRICS: tuple[str, ...] = (
    "case_pass_rate",
    "behavior_accuracy",
    "key_fact_coverage",
    "must_not_clean",
    "referral_present",
    "dose_free",
    "citation_validity",
    "hit_at_k",
    "mrr",
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
    expected_sources: list[str] = Field(default_factory=list)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

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
    thresholds: dict[str, float] = Field(default_factory=dict)
    cases: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("thresholds")
    @classmethod
    def _known_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        for metric, minimum in value.items():
            if metric not in METRICS:
                raise ValueError(f"unknown metric '{metric}' (known: {', '.join(METRICS)})")
            if not 0.0 <= minimum <= 1.0:
                raise ValueError(f"'{metric}' must be between 0 and 1, got {minimum}")
        return value


def load_suite(path: Path) -> Suite:
    """Read and validate one suite file; any problem is an ``InputError`` naming file, case and field."""
    if not path.is_file():
        raise InputError(f"{path}: no such suite file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with 'name' and 'cases'")
    try:
        raw = _RawSuite.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: {_describe(exc)}") from exc
    cases: list[Case] = []
    seen: set[str] = set()
    for number, item in enumerate(raw.cases, start=1):
        label = f"case {item.get('id')}" if item.get("id") is not None else f"case #{number} (no id)"
        try:
            case = Case.model_validate(item)
        except ValidationError as exc:
            raise InputError(f"{path}: {label}: {_describe(exc)}") from exc
        if case.id in seen:
            raise InputError(f"{path}: {label}: field 'id': duplicate id")
        seen.add(case.id)
        cases.append(case)
    return Suite(name=raw.name, path=str(path), thresholds=raw.thresholds, cases=cases)


def load_suites(paths: list[Path]) -> list[Suite]:
    suites = [load_suite(p) for p in paths]
    names = [s.name for s in suites]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(f"suite names must be unique across the run; repeated: {', '.join(duplicated)}")
    return suites


def _describe(exc: ValidationError) -> str:
    """The first problem as ``field 'a.b': message`` (pydantic's own wording, minus its prefixes)."""
    err = exc.errors()[0]
    message = str(err["msg"]).removeprefix("Value error, ")
    loc = ".".join(str(part) for part in err["loc"])
    if err["type"] == "extra_forbidden":
        message = "unknown field"
    elif err["type"] == "missing":
        message = "required field is missing"
    return f"field '{loc}': {message}" if loc else message
