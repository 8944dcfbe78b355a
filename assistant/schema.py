"""Data that moves between the stages: documents and chunks in, answers out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_serializer

Behavior = Literal[
    "answer", "urgent_referral", "out_of_scope", "refuse_dosing", "clarify", "no_information", "unavailable"
]


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
    questions: list[str] = Field(
        default_factory=list, description="Ways runners ask the question its section answers (first chunk only)."
    )


class Reference(BaseModel):
    """One published source behind a quote: who and when, its title, a link to it and who published it."""

    label: str = Field(description="Author or organisation and year, e.g. 'Willy RW 2019'.")
    title: str
    link: str = Field("", description="The article itself: its DOI address or the page's URL.")
    publisher: str = Field("", description="The journal or organisation that published it.")


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
    references: list[Reference] = Field(
        default_factory=list, description="The same references with their links and publishers, for source cards."
    )
    page: int | None = Field(None, description="PDF page the quote is on, when the source is a PDF.")


class Decision(BaseModel):
    """One guardrail or pipeline decision, with the reason staff can read."""

    stage: str
    outcome: str
    reason: str


class Candidate(BaseModel):
    """A retrieved chunk with its scores, for the staff view."""

    chunk_id: str
    doc_id: str
    section: str
    score: float = Field(description="The chunk's fused (reciprocal-rank) score; it orders chunks of one document.")
    dense: float | None = Field(None, description="Cosine similarity to the query; None if only BM25 found it.")
    bm25: float | None = Field(None, description="BM25 score; None if only the dense search found it.")
    question: float | None = Field(
        None, description="Similarity of the query to the section's nearest question variant; None if none counted."
    )
    doc_score: float | None = Field(
        None, description="Its document's fused score (sum of the best reciprocal-rank shares), which ranks documents."
    )


FilterValue = str | int | float | bool


class AskOptions(BaseModel):
    """Per-question choices (the staff console sets them; runners get the defaults)."""

    top_k: int | None = Field(None, ge=1, le=50, description="Chunks given to the composer; None = settings.")
    where: dict[str, FilterValue] = Field(
        default_factory=dict,
        description="Metadata equality filters on chunks, e.g. {'kind': 'article'} or {'evidence': 'guideline'}.",
    )
    extractive: bool = Field(False, description="Use the extractive composer even when an LLM is configured.")


class Answer(BaseModel):
    """The public result of ``Assistant.ask``."""

    text: str = Field(description="Markdown shown to the runner: body, then the referral.")
    body: str = Field("", description="The answer without the referral, for UIs that style them apart.")
    citations: list[Citation] = Field(default_factory=list)
    behavior: Behavior
    tier: Literal["emergency", "same_day", "within_days", "routine", "none"] = Field(
        "routine", description="How soon to get checked: emergency, same_day, within_days, routine; none for a decline."
    )
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
    dropped: dict[str, str] = Field(
        default_factory=dict, description="doc_id -> why `index rebuild` left out a document of the old index"
    )
    failed: dict[str, str] = Field(default_factory=dict, description="path -> one-line reason")
    quarantined: dict[str, list[str]] = Field(
        default_factory=dict, description="doc_id -> why chunks were held back (instruction-like or hidden text)"
    )
    chunks_written: int = 0
    seconds: float = 0.0

    @field_serializer("failed")
    def _failed_as_list(self, failed: dict[str, str]) -> list[dict[str, str]]:
        return [{"path": path, "reason": reason} for path, reason in failed.items()]

    @property
    def ok(self) -> bool:
        return not self.failed
