"""The corpus front-matter schema: the one agreement between article writers and ingestion."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SourceKind = Literal[
    "guideline", "consensus", "systematic-review", "trial", "review", "public-health", "clinician-opinion"
]
Audience = Literal["runners", "clinicians", "parents", "coaches", "older-runners"]
SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SOURCE_MARKER = re.compile(r"\[(S\d{2})\]")
MAX_VARIANTS = 12
Variant = Annotated[str, Field(min_length=3, max_length=300)]


class SourceRef(BaseModel):
    """One reference behind an article; ``id`` is what inline markers like ``[S02]`` point to."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^S\d{2}$")
    title: str = Field(min_length=3)
    authors: str | None = None
    organisation: str | None = None
    publisher: str | None = Field(
        None, description="Journal or organisation that published it, named on the source card beside the link."
    )
    year: int | None = Field(None, ge=1900, le=2100, description="Publication year; omit for undated web pages.")
    url: str | None = Field(None, pattern=r"^https?://")
    doi: str | None = Field(None, pattern=r"^10\.\d{4,9}/\S+$")
    kind: SourceKind

    @model_validator(mode="after")
    def _who_and_where(self) -> SourceRef:
        if not (self.authors or self.organisation):
            raise ValueError(f"source {self.id}: needs 'authors' or 'organisation'")
        if not (self.url or self.doi):
            raise ValueError(f"source {self.id}: needs 'url' or 'doi'")
        return self

    @property
    def link(self) -> str:
        return self.url or f"https://doi.org/{self.doi}"

    @property
    def short(self) -> str:
        who = (self.authors or self.organisation or "").split(",")[0]
        return f"{who} {self.year or 'n.d.'}"


class ArticleMeta(BaseModel):
    """Front matter every corpus article carries."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=3)
    summary: str = Field(min_length=10)
    topics: list[str] = Field(min_length=1, max_length=6)
    audience: list[Audience] = Field(min_length=1)
    sources: list[SourceRef] = Field(min_length=1)
    evidence: str = Field(min_length=3)
    last_reviewed: dt.date
    reviewed_by: str = Field(min_length=1)
    licence: str = Field(min_length=2)
    questions: dict[str, list[Variant]] = Field(
        default_factory=dict,
        description="Section heading -> other ways runners ask its question (retrieval matches them too).",
    )

    @model_validator(mode="after")
    def _unique_sources(self) -> ArticleMeta:
        ids = [s.id for s in self.sources]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate source ids in 'sources'")
        for heading, variants in self.questions.items():
            if not 1 <= len(variants) <= MAX_VARIANTS:
                raise ValueError(f"questions for '{heading}': give 1 to {MAX_VARIANTS} variants")
        return self

    def source(self, marker: str) -> SourceRef | None:
        return next((s for s in self.sources if s.id == marker), None)


def strip_markers(text: str) -> str:
    """Text without inline ``[Sxx]`` source markers (for embedding and display)."""
    return re.sub(r"\s+([.,;:!?])", r"\1", SOURCE_MARKER.sub("", text)).replace("  ", " ").strip()
