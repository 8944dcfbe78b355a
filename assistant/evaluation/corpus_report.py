"""How readable and how askable the corpus is: `python -m assistant.evaluation.corpus_report [corpus/] [--json]`.

For every article: its sections, the reading grade of each section's lead (the first one or two sentences, which
the answer shows first), how many question variants each section carries, and any section that cites the 2018
seed opinion without other evidence beside it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.evaluation.readability import grade
from assistant.ingest.frontmatter import SOURCE_MARKER, strip_markers
from assistant.ingest.load import discover, load
from assistant.ingest.split import split_sentences

PROFESSIONAL = "When to see a professional"
SEED_SOURCE = "S01"  # the 2018 clinician-opinion article every seed claim cites
PLAIN_GRADE = 8.0
_SECTION = re.compile(r"^## (.+?)\s*$", re.M)


@dataclass
class SectionReport:
    heading: str
    lead: str
    grade: float
    variants: int
    markers: list[str]

    @property
    def seed_alone(self) -> bool:
        """The section cites the seed opinion and nothing else."""
        return SEED_SOURCE in self.markers and set(self.markers) == {SEED_SOURCE}


@dataclass
class ArticleReport:
    doc_id: str
    sections: list[SectionReport] = field(default_factory=list)


def sections_of(body: str) -> list[tuple[str, str]]:
    """(heading, text) of every ``##`` section of an article body."""
    parts = _SECTION.split(body)
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2)]


def lead_of(text: str, most: int = 2) -> list[str]:
    """The first ``most`` sentences of a section's first paragraph."""
    para = next((p for p in re.split(r"\n\s*\n", text) if p.strip()), "")
    return [s.text for s in split_sentences(para.strip())][:most]


def article_report(path: Path) -> ArticleReport:
    doc = load(path)
    asked = doc.meta.questions if doc.meta else {}
    report = ArticleReport(doc.doc_id)
    for heading, text in sections_of(doc.body):
        lead = " ".join(strip_markers(s) for s in lead_of(text))
        report.sections.append(SectionReport(heading, lead, grade(lead), len(asked.get(heading, [])),
                                             sorted(set(SOURCE_MARKER.findall(text)))))
    return report


def summary(reports: list[ArticleReport]) -> dict[str, object]:
    sections = [s for r in reports for s in r.sections]
    answered = [s for s in sections if s.heading != PROFESSIONAL]
    grades = [s.grade for s in answered]
    return {
        "articles": len(reports),
        "sections": len(sections),
        "question_sections": sum(s.heading.endswith("?") for s in answered),
        "sections_with_variants": sum(s.variants > 0 for s in answered),
        "variants": sum(s.variants for s in answered),
        "lead_grade_mean": round(sum(grades) / len(grades), 1) if grades else 0.0,
        "leads_at_or_below_grade_8": round(sum(g <= PLAIN_GRADE for g in grades) / len(grades), 3) if grades else 0.0,
        "seed_sections_without_evidence": [f"{r.doc_id}: {s.heading}" for r in reports for s in r.sections
                                           if s.seed_alone],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default="corpus", type=Path)
    parser.add_argument("--json", action="store_true", help="print every section as JSON")
    args = parser.parse_args(argv)
    reports = [article_report(p) for p in discover([args.corpus]) if p.suffix == ".md"]
    if args.json:
        print(json.dumps({"summary": summary(reports), "articles": [asdict(r) for r in reports]}, indent=1))
        return 0
    print(f"{'article':40} {'sections':>8} {'lead grade':>10} {'variants':>8}")
    for r in reports:
        answered = [s for s in r.sections if s.heading != PROFESSIONAL]
        mean = sum(s.grade for s in answered) / max(1, len(answered))
        print(f"{r.doc_id:40} {len(r.sections):8} {mean:10.1f} {sum(s.variants for s in answered):8}")
    for key, value in summary(reports).items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
