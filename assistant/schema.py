"""Data that moves between the stages: documents and chunks in, answers out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Behavior = Literal["answer", "urgent_referral", "out_of_scope", "refuse_dosing", "clarify", "no_information"]


class Sentence(BaseModel):
    """One sentence of a chunk, with its character offsets in the chunk text."""

    text: str
    start: int
    end: int


class Chunk(BaseModel):
    """A heading-aware piece of one document, the unit stored in the index."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    sentences: list[Sentence]
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Citation(BaseModel):
    """What an inline ``[n]`` marker points to; ``quote`` is the exact source text."""

    n: int
    doc_id: str
    title: str
    section: str
    url: str = ""
    quote: str
    evidence: str = ""
    sources: list[str] = Field(default_factory=list, description="Underlying references behind the quote.")


class Decision(BaseModel):
    """One guardrail or pipeline decision, with the reason staff can read."""

    stage: str
    outcome: str
    reason: str


class Candidate(BaseModel):
    """A retrieved chunk with its score, for the staff view."""

    chunk_id: str
    doc_id: str
    section: str
    score: float


class Answer(BaseModel):
    """The public result of ``Assistant.ask``."""

    text: str = Field(description="Markdown shown to the runner: body, then the referral.")
    body: str = Field("", description="The answer without the referral, for UIs that style them apart.")
    citations: list[Citation] = Field(default_factory=list)
    behavior: Behavior
    referral: str = Field(min_length=1)
    query: str = Field("", description="The retrieval query after follow-up rewriting.")
    decisions: list[Decision] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict, description="Milliseconds per stage.")


class IngestReport(BaseModel):
    """What one ingestion run did, per outcome."""

    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="Indexed documents whose file is gone.")
    failed: dict[str, str] = Field(default_factory=dict, description="path -> one-line reason")
    chunks_written: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed
