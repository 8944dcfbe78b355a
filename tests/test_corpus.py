"""Corpus checks: schema, sources, markers, no doses, a professional section, our own words."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml

from assistant.evaluation.corpus_report import PLAIN_GRADE, PROFESSIONAL, article_report, summary
from assistant.ingest.frontmatter import SOURCE_MARKER, ArticleMeta
from assistant.ingest.load import load
from assistant.safety.output import has_dose

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = sorted((ROOT / "corpus").glob("*.md"))
ARTICLES = [p for p in ARTICLES if p.name != "README.md"]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def test_at_least_25_articles_with_unique_ids() -> None:
    assert len(ARTICLES) >= 25
    ids = [load(p).doc_id for p in ARTICLES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.stem)
def test_article(path: Path) -> None:
    doc = load(path)  # validates the front matter against ArticleMeta
    meta = doc.meta
    assert isinstance(meta, ArticleMeta)
    assert all(s.url or s.doi for s in meta.sources)
    markers = set(SOURCE_MARKER.findall(doc.body))
    declared = {s.id for s in meta.sources}
    assert markers <= declared, f"unresolved markers {markers - declared}"
    assert not has_dose(doc.body), "dose-like text in article"
    assert not re.search(r"\d+\s*(?:times a day|per day|x daily)", doc.body, re.I)
    assert "## When to see a professional" in doc.body
    words = len(_words(re.sub(r"^#.*$", "", doc.body, flags=re.M)))
    assert 300 <= words <= 900, f"{words} words"


_LEANS_ON_BEFORE = re.compile(r"(?:It|This|These|That|They|Those|The same|Later evidence|Another)\b")


@pytest.mark.parametrize("path", ARTICLES, ids=lambda p: p.stem)
def test_sections_answer_a_question_first_and_list_how_runners_ask_it(path: Path) -> None:
    """Answer-first: question headings, a lead that stands alone, 3+ variants, the seed never cited alone."""
    meta = load(path).meta
    assert meta is not None
    report = article_report(path)
    headings = [s.heading for s in report.sections]
    assert set(meta.questions) <= set(headings), f"variants for no heading: {set(meta.questions) - set(headings)}"
    for section in report.sections:
        assert section.lead, f"'{section.heading}' has no text"
        assert not _LEANS_ON_BEFORE.match(section.lead), f"lead of '{section.heading}' leans on text before it"
        assert not section.seed_alone, f"'{section.heading}' cites the 2018 opinion without the evidence on it"
        if section.heading == PROFESSIONAL:
            continue
        assert section.heading.endswith("?"), f"heading is not a question: '{section.heading}'"
        assert section.variants >= 3, f"'{section.heading}' has {section.variants} question variants (3 or more)"


def test_leads_are_plain_on_average() -> None:
    """The lead sentences the answer shows first read at grade 8 or below, on average and in most sections."""
    figures = summary([article_report(p) for p in ARTICLES])
    mean, plain = figures["lead_grade_mean"], figures["leads_at_or_below_grade_8"]
    assert isinstance(mean, float) and isinstance(plain, float)
    assert mean <= PLAIN_GRADE and plain >= 0.9, figures


def test_front_matter_schema_rejects_bad_articles() -> None:
    good = yaml.safe_load(ARTICLES[0].read_text().split("---")[1])
    ArticleMeta.model_validate(good)
    for broken in (
        {**good, "sources": [{**good["sources"][0], "url": None, "doi": None}]},
        {**good, "sources": [{**good["sources"][0], "kind": "blog"}]},
        {**good, "id": "Not A Slug"},
        {**good, "surprise": 1},
    ):
        with pytest.raises(ValueError):
            ArticleMeta.model_validate(broken)


def test_no_run_of_ten_words_from_the_seed_or_fact_base() -> None:
    """Our own words: no 10-word run of the seed article or facts.md appears in an article body."""
    lines = (Path(__file__).parent / "fixtures" / "source_shingles.txt").read_text().splitlines()
    known = {line for line in lines if line and not line.startswith("#")}
    assert len(known) > 1000
    for path in ARTICLES:
        words = _words(load(path).body)
        for i in range(len(words) - 9):
            run = " ".join(words[i : i + 10])
            assert hashlib.sha256(run.encode()).hexdigest()[:16] not in known, f"{path.name}: copied run '{run}'"


def test_reading_grade_ranks_plain_text_below_dense_text() -> None:
    from assistant.evaluation.readability import grade, syllables

    words = ("knee", "makes", "jumped", "table", "lifted", "patellofemoral")
    assert [syllables(w) for w in words] == [1, 1, 1, 2, 2, 6]
    plain = "Stop if the knee swells. Walk home and rest it for a day or two."
    dense = ("Patellofemoral pain is defined by international consensus as retropatellar or peripatellar pain "
             "aggravated by activities that load the patellofemoral joint during weight bearing.")
    assert grade(plain) <= 4 < 14 <= grade(dense)
    assert grade("") == 0.0
