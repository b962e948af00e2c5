"""Scoring, rule sets and evaluation on the small example set in tests/data."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.evaluation import evaluate
from screening.questions import LoadError, load_question_set
from screening.rules import load_rule_set, parse_rule_set
from screening.rules.examples import run_examples

DATA = Path(__file__).parent / "data"
QS = load_question_set(DATA / "mini-intake.yaml")
RS = load_rule_set(DATA / "mini-rules.yaml", QS)
DAY = datetime.date(2026, 6, 1)


def run(answers):
    return evaluate(QS, RS, answers, DAY)


# -- scores --------------------------------------------------------------------------------------

def test_sum_with_reverse_scored_item_and_bands():
    # mood_2 is reverse-scored on 0..3: 0 counts as 3.
    assert run({"mood_1": 0, "mood_2": 3}).scores["mood"].value == 0
    low = run({"mood_1": 2, "mood_2": 3}).scores["mood"]
    high = run({"mood_1": 0, "mood_2": 0}).scores["mood"]
    assert (low.value, low.band, high.value, high.band) == (2, "low", 3, "high")


def test_incomplete_sum_reports_missing_items_and_no_number():
    result = run({"mood_1": 3}).scores["mood"]
    assert result.complete is False
    assert result.value is None and result.band is None
    assert result.missing == ("mood_2",)
    assert result.to_json() == {"value": None, "complete": False, "missing": ["mood_2"]}


def test_item_hidden_by_an_unanswered_question_makes_the_score_incomplete():
    """drink_many's show_if is unknown while drink_often is unanswered: not a complete 0."""
    result = run({"drink_many": 2}).scores["drinks"]
    assert (result.complete, result.missing) == (False, ("drink_often",))


def test_hidden_item_adds_nothing_and_is_not_missing():
    # drink_many is shown only if drink_often >= 1; its stale answer is ignored.
    result = run({"drink_often": 0, "drink_many": 3})
    assert result.scores["drinks"].value == 0 and result.scores["drinks"].complete
    assert result.ignored == ["drink_many"]


@pytest.mark.parametrize("sex, total, band", [
    ("male", 3, "negative"), ("male", 4, "positive"),
    ("female", 2, "negative"), ("female", 3, "positive"),
    (None, 3, "positive"),  # unanswered sex falls to the otherwise bands
])
def test_conditional_bands(sex, total, band):
    answers = {"drink_often": 1, "drink_many": total - 1}
    if sex:
        answers["sex"] = sex
    assert run(answers).scores["drinks"].band == band


def test_count_score_and_categories():
    negative = run({"worry_1": False, "worry_2": False})
    assert (negative.scores["worry_count"].value, negative.scores["worry"].value) == (0, "negative")
    acute = run({"worry_1": True, "worry_2": False, "worry_now": True})
    assert (acute.scores["worry_count"].value, acute.scores["worry"].value) == (1, "acute")
    non_acute = run({"worry_1": True, "worry_2": True, "worry_now": False})
    assert (non_acute.scores["worry_count"].value, non_acute.scores["worry"].value) == (2, "non_acute")


def test_categorical_score_is_incomplete_while_the_deciding_answer_is_missing():
    result = run({"worry_1": True, "worry_2": False}).scores["worry"]
    assert (result.complete, result.missing) == (False, ("worry_now",))


def test_hidden_stale_answer_does_not_change_a_categorical_score():
    assert run({"worry_1": False, "worry_2": False, "worry_now": True}).scores["worry"].value == "negative"


def test_computed_age_and_bmi():
    result = run({"dob": "2008-06-01", "height": 180, "weight": 81})
    assert result.computed == {"age": 18, "bmi": 25.0}
    assert run({"dob": "2008-06-02"}).computed["age"] == 17
    assert run({"height": 170, "weight": 65.5}).computed["bmi"] == 22.7  # 22.664... rounds half up
    assert run({}).computed == {"age": None, "bmi": None}


def test_score_used_by_show_if():
    assert "mood_impact" in run({"mood_1": 0, "mood_2": 3, "mood_impact": "very"}).ignored
    assert run({"mood_1": 1, "mood_2": 3, "mood_impact": "very"}).ignored == []


def test_hidden_section_hides_its_items():
    result = run({"consent": False, "sys": 200})
    assert result.ignored == ["sys"]
    assert "high-pressure" not in [f.rule for f in result.flags]


def test_show_unless_male_also_shows_when_sex_is_unanswered():
    assert run({"pregnant": "yes"}).ignored == []
    assert run({"sex": "male", "pregnant": "yes"}).ignored == ["pregnant"]


# -- flags ---------------------------------------------------------------------------------------

def test_flags_are_ordered_by_severity_and_explain_themselves():
    result = run({"consent": True, "sys": 185, "conditions": ["lung"], "mood_1": 3, "mood_2": 0})
    assert [(f.severity, f.rule) for f in result.flags] == [
        ("exclude", "heart"), ("urgent", "high-pressure"), ("info", "mood-high")]
    heart = result.flags[0]
    assert [f.text for f in heart.because] == ["conditions includes lung"]
    assert [f.text for f in result.flags[1].because] == ["sys = 185 ≥ 180"]
    assert result.flags[0].source == "Example label"


def test_rule_on_unanswered_item_does_not_fire_unless_it_asks_about_answering():
    fired = [f.rule for f in run({"consent": True}).flags]
    assert fired == ["no-pressure"]


def test_invalid_answers_are_rejected_and_reported_not_raised():
    result = run({"mood_1": 7, "nope": True, "dob": "2030-01-01", "trips": 2.5, "notes": "x" * 51})
    assert {p.item_id for p in result.rejected} == {"mood_1", "nope", "dob", "trips", "notes"}
    reasons = {p.item_id: p.message for p in result.rejected}
    assert reasons["nope"] == "unknown question id"
    assert reasons["dob"] == "this date cannot be in the future"
    assert reasons["trips"] == "enter a whole number"


def test_result_json_follows_the_contract():
    document = run({"consent": True, "sys": 185}).to_json()
    assert document["question_set"]["id"] == "mini-intake"
    assert document["rule_set"]["id"] == "mini-rules"
    assert document["scores"]["mood"] == {"value": None, "complete": False, "missing": ["mood_1", "mood_2"]}
    flag = document["flags"][0]
    assert set(flag) == {"rule", "severity", "message", "source", "because"}
    assert flag["because"][0] == {"kind": "answer", "id": "sys", "value": 185, "text": "sys = 185 ≥ 180"}


# -- rule sets -----------------------------------------------------------------------------------

def test_examples_all_pass_on_the_example_set():
    assert run_examples(QS, RS) == []


def rules_text(rule: str) -> str:
    return "id: r\ntitle: R\napplies_to: mini-intake\nrules:\n" + rule


def test_failing_example_is_reported_with_its_line_and_the_trace():
    text = rules_text("""\
  - id: high
    severity: urgent
    when: {answer: sys, gte: 180}
    message: High.
    source: Guideline
    examples:
      - {answers: {consent: true, sys: 179}, fires: true}
      - {answers: {consent: true, sys: 100}, fires: false}
""")
    rs = parse_rule_set(text, QS, "r.yaml")
    assert [str(p) for p in run_examples(QS, rs)] == [
        "r.yaml:11: rule 'high' example 1: expected to fire but it did not fire: sys = 179, not ≥ 180"]


@pytest.mark.parametrize("rule, line, reason", [
    ("  - {id: a, severity: fatal, when: {answered: sys}, message: M, source: S, examples: []}\n", 5,
     "severity: Input should be 'exclude', 'urgent', 'review' or 'info'"),
    ("""\
  - id: a
    severity: info
    when: {answered: sys}
    message: M
    source: S
    examples:
      - {answers: {sys: 100}, fires: true}
      - {answers: {sys: 120}, fires: true}
""", 10, "needs at least one example that does not fire"),
    ("""\
  - id: a
    severity: info
    when: {answer: nope, eq: 1}
    message: M
    source: S
    examples:
      - {answers: {sys: 100}, fires: true}
      - {answers: {sys: 999, zz: 1}, fires: false}
""", 7, "unknown question id 'nope'"),
    ("""\
  - id: a
    severity: info
    when: {answered: sys}
    message: M
    source: S
    examples:
      - {answers: {sys: 100}, fires: true}
      - {answers: {sys: 999}, fires: false}
""", 12, "example answer sys: enter a whole number from 60 to 260"),
])
def test_rule_set_problems(rule, line, reason):
    with pytest.raises(LoadError) as caught:
        parse_rule_set(rules_text(rule), QS, "r.yaml")
    found = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"r.yaml:{line}: ") and reason in p for p in found), found


def test_rule_set_for_another_question_set_is_refused():
    with pytest.raises(LoadError, match="applies to 'other', not to the question set 'mini-intake'"):
        parse_rule_set(rules_text("  - {id: a, severity: info, when: {answered: sys}, message: M, source: S, "
                                  "examples: [{answers: {}, fires: true}, {answers: {}, fires: false}]}\n"
                                  ).replace("mini-intake", "other"), QS)


# -- properties ----------------------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)


def plausible_value(item):
    if item.type == "yes_no":
        return st.booleans()
    if item.type in ("scale", "single_choice"):
        return st.sampled_from(item.choice_values)
    if item.type == "multi_choice":
        return st.lists(st.sampled_from(item.choice_values), unique=True)
    if item.type == "integer":
        return st.integers(int(item.min or 0), int(item.max or 100))
    if item.type == "decimal":
        return st.floats(item.min, item.max)
    if item.type == "date":
        return st.dates(datetime.date(1910, 1, 1), DAY).map(datetime.date.isoformat)
    return st.text(max_size=30)


VALID_ANSWERS = st.fixed_dictionaries({}, optional={item_id: plausible_value(item)
                                                    for item_id, item in QS.items.items()})
ANY_ANSWERS = st.dictionaries(st.sampled_from(list(QS.items) + ["unknown", ""]), JSONISH) | JSONISH


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_ANSWERS)
def test_evaluation_never_raises_on_any_answers(answers):
    result = evaluate(QS, RS, answers, DAY)
    assert set(result.scores) == set(QS.scores)
    assert all(flag.because for flag in result.flags)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(VALID_ANSWERS, st.data())
def test_a_hidden_item_never_changes_a_score_or_a_flag(answers, data):
    baseline = evaluate(QS, RS, answers, DAY)
    hidden = [i for i in QS.items if i in QS.resolve({}, DAY).hidden or i not in answers]
    ctx = QS.resolve(QS.normalize_answers(answers, DAY)[0], DAY)
    hidden = sorted(ctx.hidden)
    if not hidden:
        return
    item_id = data.draw(st.sampled_from(hidden))
    changed = dict(answers, **{item_id: data.draw(plausible_value(QS.items[item_id]))})
    after = evaluate(QS, RS, changed, DAY)
    assert after.scores == baseline.scores
    assert [f.rule for f in after.flags] == [f.rule for f in baseline.flags]
