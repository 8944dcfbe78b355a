"""Issue 20, items 5 and 6: a gate that cannot pass by accident, and compare and reports fit for CI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assistant import Assistant
from assistant.cli import app
from assistant.evaluation.dataset import Case, SuiteError, load_suite, load_suites
from assistant.evaluation.report import Report, build_report, write_reports
from assistant.evaluation.runinfo import git_commit, run_configuration
from assistant.evaluation.runner import CaseResult, ScoreOut, SuiteRun, run_suites
from assistant.evaluation.scorers import Context, citations
from assistant.schema import Answer, Citation
from assistant.ui.feedback import FeedbackStore, export_suite

runner = CliRunner()

KNEECAP = {"id": "KP01", "category": "kneecap", "question": "Why does my kneecap hurt on stairs after running?",
           "expected_behavior": "answer", "must_mention": ["patellofemoral|runner's knee"]}
ZEBRA = {"id": "ZB01", "category": "kneecap", "question": "Why does my kneecap hurt?", "expected_behavior": "answer",
         "must_mention": ["zebra crossing"]}
CADENCE_NOTE = """# Cadence notes

Runners with kneecap pain sometimes raise their step rate a little so that each landing loads the knee less.
A small increase in cadence, around five percent, is a common starting point that a physiotherapist may suggest.
"""


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _case(case_id: str, passed: bool, suite: str = "fb") -> CaseResult:
    reason = "1/1 met" if passed else "0/1 met; missed: stop running"
    return CaseResult(suite=suite, id=case_id, category="feedback", question=f"question {case_id}?",
                      expected_behavior="answer", behavior="answer", text="reply", passed=passed,
                      reasons=[] if passed else [f"key_facts: {reason}"],
                      scores={"key_facts": ScoreOut(value=1.0 if passed else 0.0, passed=passed, reason=reason,
                                                    detail={"met": int(passed), "total": 1})})


def _report(cases: list[CaseResult], thresholds: dict[str, float] | None = None, **config: str | int) -> Report:
    run = SuiteRun(name="fb", path="fb.yaml", thresholds=thresholds or {}, cases=cases)
    return build_report([run], {}, config={"commit": "abc123", "retrieval.top_k": 6, **config})


# -- a gate that cannot pass by accident --------------------------------------------------------------------------
def test_a_suite_without_thresholds_fails_when_a_case_fails() -> None:
    report = _report([_case("FB0001", True), _case("FB0002", False)])
    assert not report.passed
    (check,) = report.checks
    assert check.metric == "case_pass_rate" and check.minimum == 1.0 and "every case must pass" in check.note
    assert _report([_case("FB0001", True)]).passed
    # A suite with its own thresholds is gated by them alone.
    assert _report([_case("FB0001", True), _case("FB0002", False)], {"case_pass_rate": 0.5}).passed


def test_exported_feedback_suite_carries_a_threshold_and_fails_on_its_failed_case(tmp_path: Path) -> None:
    store = FeedbackStore.in_data_dir(tmp_path)
    entry = store.add("down", "Can I run with a swollen knee?", "...", "answer", [])
    store.review(entry, "See someone first.", ["stop running"], "answer")
    out = tmp_path / "feedback.yaml"
    assert export_suite(store, out) == 1
    suite = load_suite(out)
    assert suite.thresholds == {"case_pass_rate": 1.0}
    run = SuiteRun(name=suite.name, path=str(out), thresholds=suite.thresholds, cases=[_case("FB0001", False)])
    assert not build_report([run], {}).passed


def test_cli_summary_says_why_and_lists_failing_cases(tmp_path: Path, articles: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNEE_PATHS__CORPUS_DIR", str(articles))
    data = str(tmp_path / "data")
    assert runner.invoke(app, ["ingest", str(articles), "--data-dir", data]).exit_code == 0
    suite = _write(tmp_path / "nothresholds.yaml", {"name": "plain", "cases": [KNEECAP, ZEBRA]})
    result = runner.invoke(app, ["eval", str(suite), "--report", str(tmp_path / "r"), "--data-dir", data])
    assert result.exit_code == 1, result.output
    assert "failing cases (1):" in result.output and "plain/ZB01: key_facts: 0/1 met; missed: zebra crossing" \
        in result.output and "plain/KP01" not in result.output
    assert "threshold not met: plain case_pass_rate" in result.output
    assert "no thresholds set: every case must pass" in result.output and "gate: FAILED" in result.output
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert html.index("Failing cases (1)") < html.index("<th>metric</th>")
    as_json = runner.invoke(app, ["eval", str(suite), "--report", str(tmp_path / "r"), "--data-dir", data, "--json"])
    summary = json.loads(as_json.stdout)
    assert [c["case"] for c in summary["failing_cases"]] == ["plain/ZB01"]
    assert summary["config"]["backend"] == "extractive" and summary["config"]["corpus.documents"] == 3


# -- citations read the index being evaluated -------------------------------------------------------------------
def test_citations_of_a_staff_upload_are_checked_against_the_index(assistant: Assistant) -> None:
    uploads = assistant.settings.paths.uploads_dir
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "cadence-notes.md").write_text(CADENCE_NOTE, encoding="utf-8")
    assert assistant.ingest([uploads]).ok
    question = {"id": "CN01", "question": "Should I raise my cadence or step rate for kneecap pain?",
                "expected_behavior": "answer"}
    suite = load_suite(_write(assistant.settings.paths.data_dir / "up.yaml", {"name": "up", "cases": [question]}))
    (run,) = run_suites(assistant, [suite])
    (case,) = run.cases
    assert "cadence-notes" in {c.doc_id for c in case.citations}, case.text  # the upload is cited
    assert case.scores["citations"].passed, case.scores["citations"].reason


def test_a_quote_not_found_names_the_document() -> None:
    quote = Citation(n=1, doc_id="kneecap-pain", title="Kneecap pain in runners", section="s", quote="Made up.")
    elsewhere = Citation(n=2, doc_id="gone", title="Gone", section="s", quote="Anything.")
    answer = Answer.model_validate({"text": "Made up [1]. Anything [2].", "body": "x", "behavior": "answer",
                                    "referral": "See a physio.", "citations": [quote, elsewhere]})
    case = Case(id="c", question="q", expected_behavior="answer")
    reason = citations(case, answer, Context(sources={"kneecap-pain": "Real text."})).reason
    assert "[1] quote not found in document 'kneecap-pain' (Kneecap pain in runners)" in reason
    assert "[2] cites document 'gone', which is not in the index" in reason


# -- report.json records the configuration ----------------------------------------------------------------------
def test_report_records_settings_backend_corpus_and_commit(assistant: Assistant, articles: Path) -> None:
    settings = assistant.settings
    settings.retrieval.top_k = 4
    settings.llm.api_key = "sk-very-secret"
    settings.llm.base_url = "http://user:hunter2@127.0.0.1:8080/v1?token=abc"
    config = run_configuration(assistant)
    assert config["retrieval.top_k"] == 4 and config["retrieval.candidates"] == settings.retrieval.candidates
    assert config["retrieval.min_similarity"] == settings.retrieval.min_similarity
    assert config["answer.max_sentences"] == settings.answer.max_sentences and config["backend"] == "extractive"
    assert config["llm.base_url"] == "http://127.0.0.1:8080/v1" and config["corpus.documents"] == 3
    assert "sk-very-secret" not in json.dumps(config) and "hunter2" not in json.dumps(config)
    assert config["commit"] == git_commit(Path(__file__).resolve().parent.parent)

    suite = load_suite(_write(articles.parent / "s.yaml", {"name": "s", "cases": [KNEECAP]}))
    report = build_report(run_suites(assistant, [suite]), assistant.index_status())
    assert report.config["retrieval.top_k"] == 4 and report.config["corpus.fingerprint"] == config["corpus.fingerprint"]

    note = articles / "outer-knee.md"
    note.write_text(note.read_text(encoding="utf-8") + "\nOne more sentence about the outer knee.\n", encoding="utf-8")
    assert assistant.ingest([articles]).ok
    assert run_configuration(assistant)["corpus.fingerprint"] != config["corpus.fingerprint"]


def test_git_commit_is_read_from_the_git_folder(tmp_path: Path) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    assert git_commit(tmp_path) is None  # a branch with no commit yet
    (git / "packed-refs").write_text(f"# pack-refs\n{sha} refs/heads/main\n", encoding="utf-8")
    assert git_commit(tmp_path) == sha
    (git / "refs" / "heads" / "main").write_text(sha.replace("0", "f") + "\n", encoding="utf-8")
    assert git_commit(tmp_path) == sha.replace("0", "f")
    (git / "HEAD").write_text(sha + "\n", encoding="utf-8")
    assert git_commit(tmp_path) == sha
    assert git_commit(tmp_path / "nowhere") is None


# -- compare ------------------------------------------------------------------------------------------------------
def _two_reports(tmp_path: Path) -> tuple[Path, Path]:
    old = _report([_case("FB0001", True), _case("FB0002", True)])
    new = _report([_case("FB0001", True), _case("FB0002", False)], **{"retrieval.top_k": 4, "commit": "def456"})
    new.overall.metrics["answer_shape"] = 0.9  # a metric only the newer tool measures
    del old.overall.metrics["mrr"]
    write_reports(old, tmp_path / "old")
    write_reports(new, tmp_path / "new")
    return tmp_path / "old", tmp_path / "new"


def test_compare_takes_folders_shows_configurations_and_new_metrics(tmp_path: Path) -> None:
    old, new = _two_reports(tmp_path)
    result = runner.invoke(app, ["eval", "compare", str(old), str(new)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split() == ["commit", "abc123", "def456"] for line in lines), result.output
    assert any(line.split() == ["retrieval.top_k", "6", "4"] for line in lines), result.output
    assert "answer_shape: new metric, 90.0%" in result.output and "mrr: new metric" in result.output
    assert "fb case_pass_rate: 100.0% -> 50.0%" in result.output
    same = runner.invoke(app, ["eval", "compare", str(old / "report.json"), str(old)])
    assert same.exit_code == 0 and "(no recorded setting differs)" in same.output


def test_compare_fails_on_regression_only_when_asked(tmp_path: Path) -> None:
    old, new = _two_reports(tmp_path)
    failing = runner.invoke(app, ["eval", "compare", str(old), str(new), "--fail-on-regression"])
    assert failing.exit_code == 1, failing.output
    tolerant = runner.invoke(app, ["eval", "compare", str(old), str(new), "--fail-on-regression", "--tolerance", "0.5"])
    assert tolerant.exit_code == 0, tolerant.output
    better = runner.invoke(app, ["eval", "compare", str(new), str(old), "--fail-on-regression"])
    assert better.exit_code == 0, better.output
    as_json = json.loads(runner.invoke(app, ["eval", "compare", str(old), str(new), "--json"]).stdout)
    assert {(w["scope"], w["metric"]) for w in as_json["worse_metrics"]} >= {("overall", "case_pass_rate")}


def test_compare_input_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    old, _ = _two_reports(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.json").write_text("{not json", encoding="utf-8")
    for other in (tmp_path / "missing.json", tmp_path / "empty", tmp_path / "junk.json"):
        result = runner.invoke(app, ["eval", "compare", str(old), str(other)])
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
        assert result.output.startswith("error: ") and str(other) in result.output


# -- every problem of a suite file, with did-you-mean -------------------------------------------------------------
def test_every_problem_of_a_suite_file_is_reported_with_did_you_mean(tmp_path: Path) -> None:
    good = {"id": "A1", "question": "why?", "expected_behavior": "answer"}
    path = _write(tmp_path / "broken.yaml", {
        "name": "broken", "thresholds": {"behaviour_accuracy": 0.9},
        "cases": [{"id": "B1", "question": "why?", "expected_behaviour": "answer"},
                  {**good, "id": "B2", "must_mentoin": ["x"]},
                  {**good, "id": "B3", "expected_behavior": "answr"},
                  good, good],
    })
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    problems = err.value.problems
    assert problems == [
        f"{path}: field 'thresholds': unknown metric 'behaviour_accuracy' (known: case_pass_rate, behavior_accuracy, "
        "key_fact_coverage, key_point_coverage, rubric_score, must_not_clean, referral_present, dose_free, "
        "citation_validity, hit_at_k, mrr, first_sentence_on_point, no_repeats, no_dangling, on_topic, tier_accuracy, "
        "urgent_recall, no_false_urgent, knee_kept, off_topic_declined); "
        "did you mean 'behavior_accuracy'?",
        f"{path}: case B1: field 'expected_behaviour': unknown field; did you mean 'expected_behavior'?",
        f"{path}: case B2: field 'must_mentoin': unknown field; did you mean 'must_mention'?",
        f"{path}: case B3: field 'expected_behavior': Input should be 'answer', 'urgent_referral', "
        "'out_of_scope_decline', 'refuse_dosing', 'resist_injection' or 'clarify'; did you mean 'answer'?",
        f"{path}: case A1: field 'id': duplicate id",
    ]
    other = _write(tmp_path / "other.yaml", {"name": "other", "cases": [{"id": "C1", "question": "q"}]})
    with pytest.raises(SuiteError) as both:
        load_suites([path, other])
    assert len(both.value.problems) == 6 and both.value.problems[-1] == (
        f"{other}: case C1: field 'expected_behavior': required field is missing")

    cli = runner.invoke(app, ["eval", str(path), str(other)])
    assert cli.exit_code == 2 and "Traceback" not in cli.output
    assert cli.output.count("error: ") == 6 and "6 problem(s) in the suite files" in cli.output
