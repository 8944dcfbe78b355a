"""The history-aware retrieval query: a new question stands alone, a follow-up borrows what it refers to."""

from __future__ import annotations

import pytest

from assistant import Assistant
from assistant.rag.query import build_query, subject


def _after(first: str, reply: str = "Exercise for the hips and knees helps most runners.") -> list[tuple[str, str]]:
    return [("user", first), ("assistant", reply)]


@pytest.mark.parametrize("question", [
    "Is it safe to run with patellofemoral pain?",  # a dummy "it", and a condition of its own
    "Does it hurt more on the outside of the knee with IT band syndrome?",
    "kneecap pain after hills?",  # short, but names what is wrong
])
def test_a_question_naming_its_own_condition_borrows_nothing(question: str) -> None:
    assert build_query(question, _after("Do steroid injections help runner's knee?")) == question


@pytest.mark.parametrize(("question", "borrowed"), [
    ("how long before I notice a difference?", "What exercises help patellofemoral pain?"),  # whole: what "it" is
    ("Does it matter what surface I run on?", "What exercises help patellofemoral pain?"),
    ("ok but what if I already have arthritis?", "What exercises help patellofemoral pain?"),  # an opener wins
])
def test_a_follow_up_borrows_the_earlier_turn(question: str, borrowed: str) -> None:
    assert build_query(question, _after(borrowed)) == f"{question} (context: {borrowed})"


def test_a_swap_borrows_the_subject_not_the_earlier_treatment() -> None:
    query = build_query("what about taping instead?", _after("Do orthotics help my son's runner's knee?"))
    assert query == "what about taping instead? (context: son, runner's knee)"
    assert "orthotics" not in query


def test_swapping_the_condition_keeps_the_earlier_turn_as_the_frame() -> None:
    first = "The front of my knee hurts going downstairs after my runs."
    assert build_query("what about the IT band?", _after(first)) == f"what about the IT band? (context: {first})"


def test_details_for_a_clarifying_question_borrow_the_first_question() -> None:
    history = _after("what should I do about my knee?", "Where exactly does it hurt, and since when?")
    query = build_query("outside of the knee, started two weeks ago after hill repeats", history)
    assert query.endswith("(context: what should I do about my knee?)")


def test_subject_reads_the_latest_turn_that_names_one() -> None:
    turns = ["My 14 year old has a lump under his kneecap.", "thanks, that helps"]
    assert subject(turns) == "14 year old, lump, under his kneecap"
    assert subject(["how are you?"]) == ""


def test_a_new_topic_after_injections_is_not_answered_about_injections(corpus_assistant: Assistant) -> None:
    first = "Do steroid injections help runner's knee?"
    earlier = corpus_assistant.ask(first)
    answer = corpus_assistant.ask("Is it safe to run with patellofemoral pain?", history=[
        ("user", first), ("assistant", earlier.text)])
    assert answer.query == "Is it safe to run with patellofemoral pain?"
    assert "inject" not in answer.body.lower(), answer.body
