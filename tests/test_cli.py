"""`flask --app screening check` and `evaluate`: the contract others script against."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=[str(a) for a in args])


def test_check_passes_on_the_example_set(cli):
    result = cli("check", DATA / "mini-intake.yaml", DATA / "mini-rules.yaml")
    assert result.exit_code == 0, result.output
    assert "1 rule set(s), 14 rule example(s) passed" in result.output


def test_check_reports_file_line_and_reason_and_exits_1(cli, tmp_path):
    bad = tmp_path / "mini-intake.yaml"
    bad.write_text((DATA / "mini-intake.yaml").read_text().replace("type: yes_no, text: Worry one?",
                                                                  "type: yes_no, txt: Worry one?"))
    result = cli("check", bad)
    assert result.exit_code == 1
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if "txt: Worry" in text)
    assert f"{bad}:{line}: unknown key 'txt'" in result.output


def test_check_reports_a_failing_rule_example(cli, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text((DATA / "mini-rules.yaml").read_text().replace("{answer: sys, gte: 180}", "{answer: sys, gte: 181}"))
    shutil.copy(DATA / "mini-intake.yaml", tmp_path / "q.yaml")
    result = cli("check", tmp_path / "q.yaml", rules)
    assert result.exit_code == 1
    assert ("rule 'high-pressure' example 1: expected to fire but it could not decide (an answer it needs is "
            "missing): sys = 180, not ≥ 181; dia unanswered") in result.output


def test_check_with_a_missing_file(cli, tmp_path):
    result = cli("check", tmp_path / "nope.yaml")
    assert result.exit_code == 1
    assert "nope.yaml: no such file" in result.output


def write_answers(tmp_path, document) -> Path:
    path = tmp_path / "answers.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_evaluate_prints_the_contract(cli, tmp_path):
    path = write_answers(tmp_path, {"question_set": "ketamine-intake", "as_of": "2026-03-01",
                                    "answers": {"phq9_9": 2, "bp_systolic": 185, "date_of_birth": "1990-05-05"}})
    result = cli("evaluate", path)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["question_set"]["id"] == "ketamine-intake" and document["question_set"]["version"] == 1
    assert document["rule_set"]["id"] == "ketamine-safety" and document["rule_set"]["version"] == 1
    assert document["scores"]["phq9"]["complete"] is False
    assert "phq9_1" in document["scores"]["phq9"]["missing"]
    assert document["computed"]["age"] == 35
    rules = [(f["severity"], f["rule"]) for f in document["flags"]]
    assert rules[0] == ("urgent", "bp-crisis-range")
    assert ("review", "phq9-item9") in rules
    crisis = document["flags"][0]
    assert crisis["because"][0]["text"] == "bp_systolic = 185 ≥ 180"


def test_evaluate_with_files_instead_of_published_sets(cli, tmp_path):
    path = write_answers(tmp_path, {"question_set": "mini-intake", "answers": {"conditions": ["heart"]}})
    result = cli("evaluate", path, "--question-set", DATA / "mini-intake.yaml", "--rule-set", DATA / "mini-rules.yaml")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["flags"][0]["rule"] == "heart"


@pytest.mark.parametrize("document, message", [
    ('{"question_set": "ketamine-intake",\n "answers": {', "answers.json:2: invalid JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ({"question_set": "ketamine-intake"}, "'answers' must be an object"),
    ({"answers": {}}, "'question_set' must name a question set id"),
    ({"question_set": "nope", "answers": {}}, "no published question set with id 'nope'"),
    ({"question_set": "ketamine-intake", "answers": {"phq9_77": 1}}, "answer phq9_77: unknown question id"),
    ({"question_set": "ketamine-intake", "answers": {"phq9_1": "3"}}, "answer phq9_1: choose one of the options: 0, 1, 2, 3"),
    ({"question_set": "ketamine-intake", "answers": {"bp_systolic": 400}}, "enter a whole number from 60 to 260"),
    ({"question_set": "ketamine-intake", "as_of": "2026-13-01", "answers": {}}, "'as_of' must be a date"),
    ({"question_set": "ketamine-intake", "asof": "2026-01-01", "answers": {}}, "unknown key 'asof'"),
])
def test_evaluate_bad_input_is_one_clear_line_and_exit_1(cli, tmp_path, document, message):
    result = cli("evaluate", write_answers(tmp_path, document))
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_evaluate_missing_file(cli, tmp_path):
    result = cli("evaluate", tmp_path / "none.json")
    assert result.exit_code == 1 and "none.json: no such file" in result.output
