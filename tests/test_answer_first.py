"""Answers that read the message first: the asks of a long message, what it mentions, and answers that open with the
lead of the section that answers each ask."""

from __future__ import annotations

import re

import numpy as np

from assistant import Assistant
from assistant.rag.understand import read_message

LONG = ("I'm 34 and have been running about 30 km a week for two years. Last month I added hill repeats and now the "
        "outside of my right knee has hurt for three weeks, worse going downhill. I've tried stretching and foam "
        "rolling. Should I stop running completely? And would a knee strap help?")


def test_a_long_message_is_read_as_its_questions_and_what_it_tells() -> None:
    reading = read_message(LONG)
    assert reading.asks == ["Should I stop running completely?", "And would a knee strap help?"]
    line = reading.mention_line()
    assert line.startswith("You mention: ")
    for part in ("pain on the outside of the knee", "for three weeks", "age 34"):
        assert part in line, line
    assert "two years" not in line  # how long they have run, not how long it has hurt


def test_asks_without_a_topic_leave_the_story_as_the_question() -> None:
    reading = read_message("My knee has ached on the outside for a month whenever I pass 8 km on the road, and it "
                           "eases when I walk. I have tried new shoes and rest days. Any advice? Can anyone help?")
    assert reading.asks == []
    assert reading.mentions == ["pain on the outside of the knee", "for a month", "new shoes, rest"]
    assert read_message("Would insoles help my knee?").mention_line() == ""  # short: nothing to show back


def test_a_race_is_only_mentioned_when_the_message_is_about_one() -> None:
    assert "a race in 10 days" in read_message(
        "My first marathon is in 10 days and my knee started aching on my last long run, about 30 km in. I have "
        "been icing it every evening and it feels fine walking. Should I still start?").mentions
    assert not any(m.startswith("a race") for m in read_message(
        "I have been resting for two weeks because my knee hurt on stairs and now I want to start again slowly "
        "with short runs on the flat. How should I build back up?").mentions)


def _sentences_cited(body: str) -> bool:
    text = body.split(":", 1)[1]
    sentences = [s for s in re.split(r"(?<=\])\s+", text.strip()) if s]
    return all(re.search(r"\[\d+\]$", s) for s in sentences)


def test_each_ask_opens_with_the_lead_of_the_section_that_answers_it(corpus_assistant: Assistant) -> None:
    answer = corpus_assistant.ask(LONG)
    assert answer.behavior == "answer"
    sections = [c.section for c in answer.citations]
    assert sections[0] == "Should I stop running completely?", sections
    assert any("brace" in s.lower() or "tape" in s.lower() for s in sections[1:3]), sections
    assert answer.body.startswith("You mention: pain on the outside of the knee")
    assert any(d.stage == "understand" and d.outcome == "2 ask(s)" for d in answer.decisions)
    assert _sentences_cited(answer.body.split("\n\n")[-1])


def test_a_should_i_question_opens_with_a_verdict_and_nothing_is_said_twice(corpus_assistant: Assistant) -> None:
    answer = corpus_assistant.ask("Would wearing insoles help my sore knee?")
    first = answer.citations[0]
    assert first.section.startswith("Can insoles") and first.quote.startswith("Yes"), first
    vectors = corpus_assistant.embed([c.quote for c in answer.citations])
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, 0.0)
    assert sims.max() < 0.82, sims.max()


def test_what_is_denied_or_only_considered_is_not_read_as_had() -> None:
    mentions = read_message("I'm 14 weeks pregnant and 5 weeks into hill sessions for a marathon next year. My knee "
                            "has hurt for 2 weeks on the outside, but it does not hurt on stairs. Would a cortisone "
                            "shot help?").mentions
    assert mentions == ["pain on the outside of the knee", "for 2 weeks", "cortisone"], mentions


def test_a_named_thing_the_sources_never_mention_is_said_plainly(corpus_assistant: Assistant) -> None:
    from assistant.rag.understand import not_covered

    assert not_covered(["ice bath", "prp"], ["Ice baths after runs ...", "PRP injections lack evidence"]) == []
    assert not_covered(["yoga"], ["Exercise is the best-backed treatment"]) == ["yoga"]
    answer = corpus_assistant.ask("Is yoga good for runner's knee?")
    assert answer.body.startswith("Our sources say nothing specific about yoga")
    assert any(d.outcome == "not_covered" and d.reason == "yoga" for d in answer.decisions)
    # no section's verdict is borrowed for the thing the sources never mention
    assert len(answer.citations[0].quote.split()) > 5, answer.citations[0].quote


def test_a_bare_verdict_answers_only_a_yes_or_no_question(corpus_assistant: Assistant) -> None:
    answer = corpus_assistant.ask("What helps runner's knee?")
    assert len(answer.citations[0].quote.split()) > 5, answer.citations[0].quote
    assert corpus_assistant.ask("Would wearing insoles help my sore knee?").citations[0].quote.startswith("Yes")


def test_running_outside_is_not_pain_on_the_outside() -> None:
    assert read_message("My knees sometimes bother me if I run outside. What can I do to help them?").mentions == []
    assert read_message("I have had knee pain on the outside for a month.").mentions[0] == \
        "pain on the outside of the knee"


def test_a_lead_without_its_own_marker_cites_the_evidence_of_its_passage(corpus_assistant: Assistant) -> None:
    answer = corpus_assistant.ask("Should I stop running with runner's knee?")
    lead = answer.citations[0]
    assert "[S" not in lead.quote and lead.sources, lead
    # the article lists the 2018 seed opinion first; the lead rests on the guidance cited beside it instead
    assert "avera" not in lead.url and not any(s.startswith("Buchanan") for s in lead.sources), lead
