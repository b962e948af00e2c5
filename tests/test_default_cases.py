"""End-to-end patient cases for the default content, and checks of the content as a whole.

Each ``tests/cases/*.json`` holds a full, realistic set of answers and the
flags and scores a clinician should get, worked out by hand from
clinical-spec.md (the working is in each file's ``reasoning``), never copied
from the engine's output. A case file is ``{"description", "reasoning",
"question_set", "as_of", "answers", "expect"}``; its ``question_set``,
``as_of`` and ``answers`` are the ANSWERS.json of ``flask --app screening
evaluate``.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest

from screening.content import default_question_set_path, default_rule_set_path
from screening.evaluation import evaluate
from screening.questions import load_question_set
from screening.rules import load_rule_set
from screening.rules.examples import run_examples

CASES = sorted((Path(__file__).parent / "cases").glob("*.json"))
SEVERITIES = ("exclude", "urgent", "review", "info")


def _path(value):
    return value() if callable(value) else value


@pytest.fixture(scope="module")
def qs():
    return load_question_set(_path(default_question_set_path))


@pytest.fixture(scope="module")
def rs(qs):
    return load_rule_set(_path(default_rule_set_path), qs)


# ----------------------------------------------------------------------------- patient cases
def test_there_are_enough_cases():
    assert len(CASES) >= 12


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(qs, rs, path):
    case = json.loads(path.read_text(encoding="utf-8"))
    assert case["question_set"] == qs.id
    expect = case["expect"]
    result = evaluate(qs, rs, case["answers"], as_of=datetime.date.fromisoformat(case["as_of"]))

    assert result.rejected == [], "a case's answers must all be valid"
    # Complete intake: every required question that is shown is answered (unless the case is
    # about an incomplete score, whose missing items are then exactly the ones it expects).
    ctx = qs.resolve(qs.normalize_answers(case["answers"], result.as_of)[0], result.as_of)
    expected_missing = {i for s in expect["scores"].values() for i in s.get("missing", [])}
    assert set(qs.missing_required(ctx)) == expected_missing

    got = {severity: sorted(f.rule for f in result.flags if f.severity == severity) for severity in SEVERITIES}
    want = {severity: sorted(expect["flags"].get(severity, [])) for severity in SEVERITIES}
    assert got == want

    # Flags come most severe first, and each says why it fired.
    ranks = [SEVERITIES.index(f.severity) for f in result.flags]
    assert ranks == sorted(ranks)
    for flag in result.flags:
        assert flag.because, f"{flag.rule} fired without a reason"
        assert flag.message and flag.source

    scores = result.to_json()["scores"]
    for score_id, want_score in expect["scores"].items():
        got_score = scores[score_id]
        assert {key: got_score.get(key) for key in want_score} == want_score, score_id
        assert got_score["complete"] is ("missing" not in want_score), score_id

    for computed_id, value in expect.get("computed", {}).items():
        assert result.computed[computed_id] == pytest.approx(value), computed_id

    assert sorted(result.ignored) == sorted(expect.get("ignored", []))


def test_cases_cover_every_exclude_and_urgent_rule_and_a_suitable_candidate(rs):
    fired = {}
    for path in CASES:
        flags = json.loads(path.read_text(encoding="utf-8"))["expect"]["flags"]
        for severity in SEVERITIES:
            for rule in flags.get(severity, []):
                fired.setdefault(rule, severity)
    for rule in rs.rules:
        if rule.severity in ("exclude", "urgent"):
            assert rule.id in fired, f"no case fires {rule.id}"
    suitable = [p for p in CASES
                if not any(json.loads(p.read_text())["expect"]["flags"].get(s) for s in ("exclude", "urgent"))]
    assert suitable


# ------------------------------------------------------------------------ blood-pressure rules
SYSTOLIC = [None, 100, 139, 140, 159, 160, 179, 180, 181, 260]
DIASTOLIC = [None, 40, 89, 90, 99, 100, 119, 120, 121, 159]
BP_RULES = ("bp-crisis-range", "bp-uncontrolled", "bp-elevated")


def expected_bp_rule(systolic, diastolic):
    """The spec's three ranges, highest first; an unknown reading is in no range."""
    def at_least(s, d):
        return (systolic is not None and systolic >= s) or (diastolic is not None and diastolic >= d)
    if at_least(180, 120):
        return "bp-crisis-range"
    if at_least(160, 100):
        return "bp-uncontrolled"
    if at_least(140, 90):
        return "bp-elevated"
    return None


# Every pair of readings around the cut-offs, one or both missing, except impossible ones
# (diastolic not below systolic).
BP_READINGS = [(s, d) for s in SYSTOLIC for d in DIASTOLIC if s is None or d is None or d < s]


@pytest.mark.parametrize("systolic,diastolic", BP_READINGS)
def test_blood_pressure_rules_are_mutually_exclusive(qs, rs, systolic, diastolic):
    answers = {k: v for k, v in (("bp_systolic", systolic), ("bp_diastolic", diastolic)) if v is not None}
    result = evaluate(qs, rs, answers, as_of=datetime.date(2026, 3, 15))
    assert result.rejected == []
    fired = [f.rule for f in result.flags if f.rule in BP_RULES]
    expected = expected_bp_rule(systolic, diastolic)
    assert fired == ([expected] if expected else [])
    assert ("bp-missing" in {f.rule for f in result.flags}) is (systolic is None)


# ------------------------------------------------------------------------- the content as a whole
SPEC_RULES = {
    "vascular-contraindication": "exclude", "ketamine-hypersensitivity": "exclude", "under-18": "exclude",
    "asq-acute-positive": "urgent", "bp-crisis-range": "urgent",
    "asq-non-acute-positive": "review", "phq9-item9": "review", "bp-uncontrolled": "review",
    "psychosis": "review", "bipolar-or-mania": "review", "pregnancy": "review", "cardiovascular": "review",
    "intracranial-or-ocular-pressure": "review", "label-cautions": "review", "bladder": "review",
    "breathing": "review", "ketamine-misuse": "review", "alcohol-positive": "review",
    "drug-use-frequent": "review", "opioid-or-sedative-use": "review", "benzodiazepine-daily": "review",
    "interacting-medication": "review",
    "lamotrigine": "info", "trd-definition": "info", "bp-elevated": "info", "bp-missing": "info",
    "age-65-plus": "info", "no-escort": "info", "ptsd-positive": "info", "anxiety-moderate": "info",
    "depression-severe": "info",
}


def test_rule_ids_and_severities_are_the_contract(rs):
    assert rs.id == "ketamine-safety"
    assert rs.applies_to == "ketamine-intake"
    assert {rule.id: rule.severity for rule in rs.rules} == SPEC_RULES


def test_every_rule_example_passes(qs, rs):
    assert [str(p) for p in run_examples(qs, rs)] == []
    for rule in rs.rules:
        assert {e.fires for e in rule.examples} == {True, False}, rule.id


def test_section_order_is_the_contract(qs):
    assert [s.id for s in qs.sections] == [
        "consent", "about_you", "depression_history", "phq9", "gad7", "suicide_risk", "trauma",
        "alcohol", "drug_use", "medical", "medications", "vitals"]


def test_instruments_carry_licence_and_citation(qs):
    by_id = {i.id: i for i in qs.instruments}
    assert set(by_id) >= {"phq9", "gad7", "asq", "auditc", "pcptsd5"}
    for instrument in qs.instruments:
        assert instrument.licence.strip() and instrument.citation.strip(), instrument.id
    for instrument_id, author in [("phq9", "Kroenke"), ("gad7", "Spitzer"), ("asq", "Horowitz"),
                                  ("auditc", "Bush"), ("pcptsd5", "Prins")]:
        assert author in by_id[instrument_id].citation


def _patient_facing_text(qs):
    yield qs.title
    yield qs.description or ""
    for section in qs.sections:
        yield section.title
        yield section.intro or ""
        for item in section.items:
            yield item.text
            yield item.help or ""
            yield item.none_label or ""
            for choice in item.choices:
                yield choice.label
                yield choice.help or ""
    for check in qs.checks:
        yield check.message


def test_the_patient_is_never_told_they_are_excluded(qs):
    words = re.compile(r"\b(exclu\w*|ineligib\w*|not eligible|disqualif\w*|contraindicat\w*|unsuitable)\b",
                       re.IGNORECASE)
    offending = [text for text in _patient_facing_text(qs) if words.search(text)]
    assert offending == []


def test_no_restricted_instrument_is_shipped(qs):
    text = " ".join(_patient_facing_text(qs)).lower()
    ids = " ".join(qs.items).lower()
    for marker in ("c-ssrs", "cssrs", "columbia", "mdq", "mood disorder questionnaire", "dast"):
        assert marker not in text and marker not in ids


def test_shipped_content_passes_the_cli_check(tmp_path):
    from screening import create_app

    # create_app takes the instance folder as INSTANCE_PATH (SCREENING_INSTANCE_PATH is the
    # environment variable); without it the app would write to ./instance.
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "test-secret"})
    result = app.test_cli_runner().invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "example" in result.output.lower()
    # The number of examples run is reported.
    assert re.search(r"\b\d+\b\s+(rule\s+)?examples?", result.output, re.IGNORECASE), result.output
