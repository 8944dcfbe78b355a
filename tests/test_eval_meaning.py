"""Evaluation by meaning: key points against blind reviewers' labels, rubric items with a recording judge, off-topic
sentences, and suites run against a served app through ``/ask`` (real embedding model, real Chroma, real server)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from assistant import Assistant
from assistant.cli import app
from assistant.config import JudgeSettings
from assistant.evaluation import calibrate
from assistant.evaluation.dataset import Case, RubricItem, load_suite
from assistant.evaluation.judge import GIVE_UP_AFTER, Judge, make_judge, read_grade
from assistant.evaluation.meaning import DEFAULT, judge_points, off_topic, reply_sentences
from assistant.evaluation.remote import RemoteAsk, remote_target
from assistant.evaluation.runner import run_suites
from assistant.evaluation.scorers import Context, key_points, rubric
from assistant.prompts import PromptBook
from assistant.providers.embeddings import LocalEmbeddings
from assistant.providers.fakes import RecordingChatModel
from assistant.schema import Answer
from tests.browser_support import running_app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _embed(embeddings: LocalEmbeddings) -> Any:
    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(embeddings.embed_documents(texts), dtype=np.float32).reshape(len(texts), -1)

    return embed


def _answer(body: str) -> Answer:
    return Answer(text=body + "\n\nSee a physiotherapist.", body=body, behavior="answer",
                  referral="See a physiotherapist.")


def _case(**fields: Any) -> Case:
    return Case.model_validate({"id": "K1", "question": "Should I keep running with sore kneecaps?",
                                "expected_behavior": "answer", **fields})


# -- key points by meaning ----------------------------------------------------------------------------------------
def test_the_meaning_check_agrees_with_blind_reviewers_on_cases_it_was_not_fitted_on(
        embeddings: LocalEmbeddings) -> None:
    replies = calibrate.load_labels()
    assert len(replies) >= 150 and sum(len(r.points) for r in replies) >= 300
    rows = calibrate.point_rows(replies, _embed(embeddings))
    fitted_on = [r for r in rows if not calibrate.held_out(r.case)]
    held_out = [r for r in rows if calibrate.held_out(r.case)]
    assert len(held_out) >= 150
    sentences = [s for s in calibrate.sentence_rows(replies, _embed(embeddings)) if not calibrate.held_out(s.case)]
    # The thresholds in use are the ones the calibration half gives: nobody nudged them by hand.
    assert calibrate.fit(fitted_on, sentences) == DEFAULT
    from assistant.evaluation.meaning import decide

    agree = calibrate.agreement([decide(r.similarity, r.word_share) for r in held_out], [r.met for r in held_out])
    # evals/README.md reports 0.88 / 0.76 on this half; the floor catches a scorer that drifts from the reviewers.
    assert agree.precision >= 0.85 and agree.recall >= 0.72, agree.line("held out")


def test_a_paraphrase_meets_a_key_point_and_a_neighbouring_topic_does_not(embeddings: LocalEmbeddings) -> None:
    case = _case(key_points=["Keep running if the pain stays mild, about 2 out of 10, and settles within an hour",
                             "Strengthening the hips and knees together is the main treatment"])
    said = _answer("Running can carry on as long as the pain stays mild, around 2 out of 10, and eases within an "
                   "hour [1]. Shoes with extra cushioning are popular with runners [2].")
    score = key_points(case, said, Context(sources={}, embed=_embed(embeddings)))
    assert score.detail["met"] == 1 and score.value == 0.5, score.detail
    first, second = score.detail["points"]  # type: ignore[misc]
    assert first["met"] and not second["met"]
    assert "missed: 'Strengthening the hips" in score.reason


def test_the_referral_footer_does_not_meet_a_key_point(embeddings: LocalEmbeddings) -> None:
    case = _case(key_points=["A physiotherapist can assess the knee and guide the return to running"])
    answer = Answer(text="Ice may ease pain for a while [1].\n\nA physiotherapist can assess your knee and guide your "
                    "return to running.", body="Ice may ease pain for a while [1].", behavior="answer",
                    referral="A physiotherapist can assess your knee and guide your return to running.")
    assert key_points(case, answer, Context(sources={}, embed=_embed(embeddings))).value == 0.0


def test_reply_sentences_drop_markers_and_markdown() -> None:
    assert reply_sentences("**Short answer:** Yes, most people recover [1][S02]. It takes weeks.\n- Rest a bit "
                           "[2].") == ["Short answer: Yes, most people recover.", "It takes weeks.", "Rest a bit."]


def test_a_sentence_about_something_else_is_off_topic(embeddings: LocalEmbeddings) -> None:
    question = "Which exercises help pain on the outside of the knee from the IT band?"
    sentences = ["Hip abductor strengthening is the usual exercise treatment for IT band pain.",
                 "Marathon entry fees have risen sharply in many cities."]
    assert off_topic(question, sentences, _embed(embeddings)) == [2]


def test_a_long_message_is_read_by_its_question_too(embeddings: LocalEmbeddings) -> None:
    story = ("I started running last spring and built up to three runs a week with a friend from work. " * 6
             + "What exercises help pain on the outside of the knee?")
    verdicts = judge_points(["Hip strengthening exercises help outer knee pain from the IT band"],
                            ["Strengthening the hip muscles is the main exercise for IT band pain on the outer "
                             "knee."], _embed(embeddings))
    assert verdicts[0].met
    assert off_topic(story, ["Strengthening the hip muscles helps outer knee pain."], _embed(embeddings)) == []


# -- rubric items and the judge -----------------------------------------------------------------------------------
RUBRIC = [{"criterion": "Says running can continue while pain stays mild", "points": 5},
          {"criterion": "Gives a medicine dose", "points": -10, "match": "mg|tablets"}]


def _judge(script: Any) -> tuple[Judge, RecordingChatModel]:
    model = RecordingChatModel(script=script)
    return Judge(model, PromptBook(ROOT / "prompts"), "openai:fake"), model


def test_a_judge_grades_each_rubric_item_and_the_report_counts_its_agreement(embeddings: LocalEmbeddings) -> None:
    def script(messages: list[Any]) -> str:
        prompt = str(messages[-1].content)
        return json.dumps({"met": "running can continue" in prompt.lower(), "reason": "read the reply"})

    judge, model = _judge(script)
    case = _case(rubric=RUBRIC)
    answer = _answer("Running can usually continue while the pain stays mild [1].")
    score = rubric(case, answer, Context(sources={}, embed=_embed(embeddings), judge=judge))
    assert len(model.calls) == 2
    system, item = model.calls[0]
    assert "one line of JSON" in str(system.content)
    assert "Says running can continue while pain stays mild" in str(item.content)
    assert "<reply>\nRunning can usually continue" in str(item.content) and "physiotherapist" not in str(item.content)
    assert score.value == 1.0 and score.detail["judged"] == 2, score.detail
    items = score.detail["items"]
    assert [i["by"] for i in items] == ["judge", "judge"] and items[0]["reason"] == "read the reply"  # type: ignore
    assert score.detail["agree"] == 2  # the offline check met the first by meaning and not the second


def test_a_negative_item_costs_points_and_the_score_stays_in_range(embeddings: LocalEmbeddings) -> None:
    case = _case(rubric=RUBRIC)
    dosed = _answer("Running can usually continue while pain stays mild [1]. Some take 400 mg tablets [2].")
    score = rubric(case, dosed, Context(sources={}, embed=_embed(embeddings)))
    assert score.value == 0.0 and score.detail["earned"] == -5, score.detail
    assert all(i["by"] == "offline" for i in score.detail["items"])  # type: ignore[attr-defined]
    assert "no judge configured" in score.detail["items"][0]["reason"]  # type: ignore[index]


def test_an_unreadable_or_failing_judge_leaves_the_item_to_the_offline_check(embeddings: LocalEmbeddings) -> None:
    judge, _ = _judge(lambda messages: "I would rather not say.")
    case = _case(rubric=RUBRIC[:1])
    answer = _answer("Running can usually continue while the pain stays mild [1].")
    item = rubric(case, answer, Context(sources={}, embed=_embed(embeddings), judge=judge)).detail["items"][0]  # type: ignore[index]
    assert item["by"] == "offline" and item["met"] is True and "unreadable" in item["reason"]
    broken, model = _judge(None)
    model.error = ConnectionError("refused")
    for _ in range(GIVE_UP_AFTER + 2):
        grade = broken.grade("q", "reply", "criterion")
        assert grade.met is None
    assert len(model.calls) == GIVE_UP_AFTER and not broken.available
    assert grade.reason == "judge set aside after repeated failures"


@pytest.mark.parametrize(("reply", "met"), [
    ('{"met": true, "reason": "it says so"}', True),
    ('Sure! ```json\n{"met": false, "reason": "no"}\n```', False),
    ("Yes, the reply meets it.", True),
    ("not met: it never mentions pain", False),
    ("maybe", None),
])
def test_judge_replies_are_read_leniently(reply: str, met: bool | None) -> None:
    assert read_grade(reply).met is met


def test_rubric_points_and_key_points_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="points must be between -10 and 10 and not 0"):
        RubricItem(criterion="Says something", points=0)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "cases": [{
        "id": "A", "question": "q?", "expected_behavior": "answer", "key_point": ["a b c"],
        "rubric": [{"criterion": "Says so", "point": 5}]}]}), encoding="utf-8")
    from assistant.evaluation.dataset import SuiteError

    with pytest.raises(SuiteError) as err:
        load_suite(bad)
    text = "\n".join(err.value.problems)
    assert "field 'key_point': unknown field; did you mean 'key_points'?" in text
    assert "field 'rubric.0.point': unknown field" in text


def test_the_frozen_answer_set_loads_with_its_key_points() -> None:
    suite = load_suite(ROOT / "evals" / "suites" / "frozen" / "answers.yaml")
    assert len(suite.cases) == 177 and all(len(c.key_points) >= 2 for c in suite.cases)


def test_make_judge_is_none_without_a_provider() -> None:
    assert make_judge(JudgeSettings(), PromptBook(ROOT / "prompts")) is None


# -- a served app as the target -----------------------------------------------------------------------------------
QUESTIONS = ["What helps kneecap pain?", "Why does the outside of my knee hurt when running?",
             "Is kneecap pain common in runners?"]


def _suite(path: Path) -> Path:
    cases = [{"id": f"R{i}", "question": q, "expected_behavior": "answer",
              "key_points": ["Exercise for the hips and knees helps kneecap pain in runners"]}
             for i, q in enumerate(QUESTIONS, start=1)]
    path.write_text(yaml.safe_dump({"name": "remote", "thresholds": {"behavior_accuracy": 1.0}, "cases": cases}),
                    encoding="utf-8")
    return path


def test_a_suite_runs_against_a_served_app_and_waits_out_its_rate_limit(
        assistant: Assistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("assistant.ui.ratelimit.WINDOW_S", 4.0)  # the app's own limiter, with a short window
    suite = load_suite(_suite(tmp_path / "remote.yaml"))
    with running_app(assistant, rate_limit_per_minute=2) as (base, _):
        target = remote_target(base + "/", assistant.settings, per_minute=600.0)
        (run,) = run_suites(target, [suite])
    assert isinstance(target.ask, RemoteAsk) and target.ask.waits >= 1, "the third question met the limit"
    assert [c.behavior for c in run.cases] == ["answer"] * 3, [c.reasons for c in run.cases]
    assert all(c.error is None and c.citations and c.timings["total"] > 0 for c in run.cases)
    local = assistant.ask(QUESTIONS[0])
    assert run.cases[0].text == local.text  # the served app answered, the same way the library does
    assert run.config["target"] == base + "/" and run.config["backend"] == "extractive"
    assert run.config["corpus.fingerprint"] and "llm.base_url" not in run.config and "store" not in run.config
    assert run.cases[0].scores["key_points"].value is not None


def test_eval_url_from_the_command_line_records_the_target(assistant: Assistant, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNEE_PATHS__CORPUS_DIR", str(assistant.settings.paths.corpus_dir))
    suite = _suite(tmp_path / "remote.yaml")
    with running_app(assistant, rate_limit_per_minute=100) as (base, _):
        with urllib.request.urlopen(base + "/about", timeout=10) as resp:
            about = json.loads(resp.read())
        result = runner.invoke(app, ["eval", str(suite), "--url", base + "/", "--per-minute", "100",
                                     "--report", str(tmp_path / "r"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["config"]["target"] == base + "/" and summary["config"]["rate.per_minute"] == 100
    assert summary["config"]["corpus.fingerprint"] == about["corpus.fingerprint"]
    assert summary["suites"]["remote"]["counts"]["errors"] == 0
    assert "llm.base_url" not in about and "store" not in about and about["corpus.documents"] == 3


def test_eval_url_says_clearly_when_nothing_answers(tmp_path: Path) -> None:
    from tests.conftest import free_port

    suite = _suite(tmp_path / "remote.yaml")
    result = runner.invoke(app, ["eval", str(suite), "--url", f"http://127.0.0.1:{free_port()}/"])
    assert result.exit_code == 2, result.output
    assert "no knee-assistant app answered there" in result.output


def test_an_unknown_judge_provider_is_refused_before_anything_runs(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "remote.yaml")
    result = runner.invoke(app, ["eval", str(suite), "--judge", "openia", "--judge-model", "m"])
    assert result.exit_code == 2, result.output
    assert "--judge:" in result.output and "openai or ollama" in result.output


def test_a_penalty_is_judged_offline_by_its_words_only(embeddings: LocalEmbeddings) -> None:
    penalty = {"criterion": "Says painkillers before long runs are a good idea", "points": -10}
    case = _case(rubric=[RUBRIC[0], penalty])
    answer = _answer("Running can usually continue while pain stays mild [1]. Painkillers before long runs are not a "
                     "good idea, as they can hide a warning sign [2].")
    items = rubric(case, answer, Context(sources={}, embed=_embed(embeddings))).detail["items"]
    assert [i["met"] for i in items] == [True, False]  # type: ignore[attr-defined]
