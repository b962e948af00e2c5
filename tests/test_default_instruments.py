"""Test vectors for the instruments and computed values of the default question set.

Each vector is worked out from the published scoring of the instrument
(clinical-spec.md), not from the engine's output: lowest and highest possible
answers, both sides of every band boundary, the AUDIT-C cut-off for each sex
at birth, the three ASQ results, and hidden items whose stale answers must
change nothing.
"""

from __future__ import annotations

import datetime

import pytest

from screening.content import default_question_set_path, default_rule_set_path
from screening.evaluation import evaluate
from screening.questions import load_question_set
from screening.rules import load_rule_set

AS_OF = datetime.date(2026, 3, 15)

PHQ9 = [f"phq9_{n}" for n in range(1, 10)]
GAD7 = [f"gad7_{n}" for n in range(1, 8)]
ASQ = [f"asq_{n}" for n in range(1, 5)]
PCPTSD = [f"pcptsd_{n}" for n in range(1, 6)]


def _path(value):
    return value() if callable(value) else value


@pytest.fixture(scope="module")
def qs():
    return load_question_set(_path(default_question_set_path))


@pytest.fixture(scope="module")
def rs(qs):
    return load_rule_set(_path(default_rule_set_path), qs)


@pytest.fixture(scope="module")
def run(qs, rs):
    def run(answers, as_of=AS_OF):
        result = evaluate(qs, rs, answers, as_of=as_of)
        assert result.rejected == [], f"test answers were rejected: {result.rejected}"
        return result
    return run


def spread(ids, total, top=3):
    """Answers to scale items adding up to ``total``: the highest options first, then the rest."""
    answers = {}
    for item_id in ids:
        answers[item_id] = min(top, total)
        total -= answers[item_id]
    assert total == 0, "total too high for these items"
    return answers


def spread_from_end(ids, total, top=3):
    return spread(list(reversed(ids)), total, top)


def fired(result):
    return {flag.rule for flag in result.flags}


# ------------------------------------------------------------------------------------- PHQ-9
PHQ9_BANDS = [
    (0, "minimal"), (4, "minimal"),
    (5, "mild"), (9, "mild"),
    (10, "moderate"), (14, "moderate"),
    (15, "moderately severe"), (19, "moderately severe"),
    (20, "severe"), (27, "severe"),
]


@pytest.mark.parametrize("total,band", PHQ9_BANDS)
@pytest.mark.parametrize("order", [spread, spread_from_end], ids=["first-items", "last-items"])
def test_phq9_score_and_band(run, total, band, order):
    score = run(order(PHQ9, total)).scores["phq9"]
    assert score.complete is True
    assert score.value == total
    assert score.band == band
    assert score.missing == ()


def test_phq9_incomplete_reports_the_missing_items(run):
    answers = spread(PHQ9, 27)
    del answers["phq9_4"], answers["phq9_9"]
    result = run(answers)
    score = result.scores["phq9"]
    assert score.complete is False
    assert score.value is None
    assert score.band is None
    assert set(score.missing) == {"phq9_4", "phq9_9"}
    # An unknown score never fires a rule about it, however high the answered items are.
    assert "depression-severe" not in fired(result)
    assert result.to_json()["scores"]["phq9"] == {
        "value": None, "complete": False, "missing": list(score.missing)}


def test_phq9_difficulty_is_asked_only_when_a_problem_was_checked(run):
    none_checked = run({**spread(PHQ9, 0), "phq9_difficulty": "somewhat"})
    assert "phq9_difficulty" in none_checked.ignored
    assert none_checked.scores["phq9"].value == 0

    one_checked = run({**spread(PHQ9, 1), "phq9_difficulty": "somewhat"})
    assert "phq9_difficulty" not in one_checked.ignored
    # The difficulty question is not scored.
    assert one_checked.scores["phq9"].value == 1


# ------------------------------------------------------------------------------------- GAD-7
GAD7_BANDS = [
    (0, "minimal"), (4, "minimal"),
    (5, "mild"), (9, "mild"),
    (10, "moderate"), (14, "moderate"),
    (15, "severe"), (21, "severe"),
]


@pytest.mark.parametrize("total,band", GAD7_BANDS)
@pytest.mark.parametrize("order", [spread, spread_from_end], ids=["first-items", "last-items"])
def test_gad7_score_and_band(run, total, band, order):
    score = run(order(GAD7, total)).scores["gad7"]
    assert (score.complete, score.value, score.band) == (True, total, band)


def test_gad7_incomplete(run):
    answers = spread(GAD7, 14)
    del answers["gad7_7"]
    score = run(answers).scores["gad7"]
    assert (score.complete, score.value, score.band) == (False, None, None)
    assert list(score.missing) == ["gad7_7"]


# ----------------------------------------------------------------------------------- AUDIT-C
def auditc(total):
    """AUDIT-C answers with this total; item 1 is at least 1 so items 2 and 3 are asked."""
    if total == 0:
        return {"auditc_1": 0}
    first = min(4, total)
    rest = total - first
    second = min(4, rest)
    return {"auditc_1": first, "auditc_2": second, "auditc_3": rest - second}


SEXES = [("male", 4), ("female", 3), ("intersex", 3), ("prefer_not_to_say", 3), (None, 3)]


@pytest.mark.parametrize("sex,cutoff", SEXES, ids=[str(s) for s, _ in SEXES])
def test_auditc_cutoff_by_sex_at_birth(run, sex, cutoff):
    about = {} if sex is None else {"sex_at_birth": sex}
    below = run({**about, **auditc(cutoff - 1)})
    at = run({**about, **auditc(cutoff)})
    assert (below.scores["auditc"].value, below.scores["auditc"].band) == (cutoff - 1, "negative")
    assert (at.scores["auditc"].value, at.scores["auditc"].band) == (cutoff, "positive")
    assert "alcohol-positive" not in fired(below)
    assert "alcohol-positive" in fired(at)


@pytest.mark.parametrize("sex", ["male", "female", None])
def test_auditc_lowest_and_highest(run, sex):
    about = {} if sex is None else {"sex_at_birth": sex}
    lowest = run({**about, "auditc_1": 0}).scores["auditc"]
    highest = run({**about, "auditc_1": 4, "auditc_2": 4, "auditc_3": 4}).scores["auditc"]
    assert (lowest.complete, lowest.value, lowest.band) == (True, 0, "negative")
    assert (highest.complete, highest.value, highest.band) == (True, 12, "positive")


def test_auditc_never_drinks_ignores_stale_quantity_answers(run):
    clean = run({"sex_at_birth": "female", "auditc_1": 0})
    stale = run({"sex_at_birth": "female", "auditc_1": 0, "auditc_2": 4, "auditc_3": 4})
    assert {"auditc_2", "auditc_3"} <= set(stale.ignored)
    assert stale.scores["auditc"] == clean.scores["auditc"]
    assert stale.scores["auditc"].value == 0
    assert fired(stale) == fired(clean)


def test_auditc_incomplete(run):
    unanswered = run({"sex_at_birth": "male"}).scores["auditc"]
    assert (unanswered.complete, list(unanswered.missing)) == (False, ["auditc_1"])
    partly = run({"sex_at_birth": "male", "auditc_1": 3, "auditc_3": 2}).scores["auditc"]
    assert (partly.complete, partly.value, list(partly.missing)) == (False, None, ["auditc_2"])


# --------------------------------------------------------------------------------- PC-PTSD-5
def pcptsd(yes_count):
    return {"pcptsd_exposure": True, **{item: n < yes_count for n, item in enumerate(PCPTSD)}}


@pytest.mark.parametrize("count,band", [(0, "negative"), (2, "negative"), (3, "positive"), (5, "positive")])
def test_pcptsd5_count_and_band(run, count, band):
    result = run(pcptsd(count))
    score = result.scores["pcptsd5"]
    assert (score.complete, score.value, score.band) == (True, count, band)
    assert ("ptsd-positive" in fired(result)) is (count >= 3)


def test_pcptsd5_counts_yes_answers_in_any_position(run):
    answers = {"pcptsd_exposure": True, "pcptsd_1": False, "pcptsd_2": True, "pcptsd_3": False,
               "pcptsd_4": True, "pcptsd_5": True}
    assert run(answers).scores["pcptsd5"].value == 3


def test_pcptsd5_no_exposure_scores_zero_and_ignores_stale_items(run):
    clean = run({"pcptsd_exposure": False})
    stale = run({"pcptsd_exposure": False, **{item: True for item in PCPTSD}})
    for result in (clean, stale):
        score = result.scores["pcptsd5"]
        assert (score.complete, score.value, score.band) == (True, 0, "negative")
        assert "ptsd-positive" not in fired(result)
    assert set(PCPTSD) <= set(stale.ignored)


def test_pcptsd5_incomplete_while_exposure_is_unanswered(run):
    """The items are not asked yet, but that is not the same as "no exposure": no complete 0."""
    score = run({}).scores["pcptsd5"]
    assert (score.complete, score.value, list(score.missing)) == (False, None, ["pcptsd_exposure"])
    assert "ptsd-positive" not in fired(run({}))


def test_pcptsd5_incomplete_after_exposure(run):
    answers = pcptsd(3)
    del answers["pcptsd_5"]
    score = run(answers).scores["pcptsd5"]
    assert (score.complete, score.value, list(score.missing)) == (False, None, ["pcptsd_5"])


# --------------------------------------------------------------------------------------- ASQ
def asq(*yes, now=None):
    answers = {item: item in yes for item in ASQ}
    if now is not None:
        answers["asq_5"] = now
    return answers


def test_asq_negative(run):
    result = run(asq())
    assert (result.scores["asq"].complete, result.scores["asq"].value) == (True, "negative")
    assert not {"asq-acute-positive", "asq-non-acute-positive"} & fired(result)


@pytest.mark.parametrize("item", ASQ)
def test_asq_acute_positive(run, item):
    result = run(asq(item, now=True))
    assert (result.scores["asq"].complete, result.scores["asq"].value) == (True, "acute_positive")
    assert "asq-acute-positive" in fired(result)
    assert "asq-non-acute-positive" not in fired(result)


@pytest.mark.parametrize("item", ASQ)
def test_asq_non_acute_positive(run, item):
    result = run(asq(item, now=False))
    assert (result.scores["asq"].complete, result.scores["asq"].value) == (True, "non_acute_positive")
    assert "asq-non-acute-positive" in fired(result)
    assert "asq-acute-positive" not in fired(result)


def test_asq_all_yes_not_acute(run):
    result = run(asq(*ASQ, now=False))
    assert result.scores["asq"].value == "non_acute_positive"


def test_asq_incomplete_when_acuity_question_unanswered(run):
    result = run(asq("asq_3"))
    score = result.scores["asq"]
    assert (score.complete, score.value, list(score.missing)) == (False, None, ["asq_5"])
    assert not {"asq-acute-positive", "asq-non-acute-positive"} & fired(result)


def test_asq_incomplete_when_a_screening_question_is_unanswered(run):
    answers = asq()
    del answers["asq_2"]
    score = run(answers).scores["asq"]
    assert (score.complete, score.value, list(score.missing)) == (False, None, ["asq_2"])


def test_asq_stale_acuity_answer_on_a_negative_screen_is_ignored(run):
    clean = run(asq())
    stale = run(asq(now=True))
    assert "asq_5" in stale.ignored
    assert stale.scores["asq"] == clean.scores["asq"]
    assert stale.scores["asq"].value == "negative"
    assert fired(stale) == fired(clean)


# ------------------------------------------------------------------------- hidden stale answers
STALE = [
    # (answers the patient sees, stale answers to items hidden by them)
    ({"sex_at_birth": "male"}, {"pregnant": "yes", "breastfeeding": True}),
    ({"dep_diagnosed": False}, {"ad_trials": 0, "dep_episode_months": 12, "ect_history": True}),
    ({"medications": ["ssri"]}, {"benzodiazepine_daily": True}),
    ({"auditc_1": 0}, {"auditc_2": 4, "auditc_3": 4}),
    ({"pcptsd_exposure": False}, {item: True for item in PCPTSD}),
    (asq(), {"asq_5": True}),
    (spread(PHQ9, 0), {"phq9_difficulty": "extremely"}),
]


@pytest.mark.parametrize("shown,hidden", STALE, ids=[next(iter(h)) for _, h in STALE])
def test_a_hidden_items_stale_answer_changes_nothing(run, shown, hidden):
    clean = run(shown)
    stale = run({**shown, **hidden})
    assert set(hidden) <= set(stale.ignored)
    assert clean.ignored == []
    assert stale.scores == clean.scores
    assert stale.computed == clean.computed
    assert [(f.rule, f.severity) for f in stale.flags] == [(f.rule, f.severity) for f in clean.flags]


@pytest.mark.parametrize("sex", [None, "female", "intersex", "prefer_not_to_say"])
def test_pregnancy_is_asked_unless_male_at_birth(run, sex):
    about = {} if sex is None else {"sex_at_birth": sex}
    result = run({**about, "pregnant": "unsure", "breastfeeding": False})
    assert result.ignored == []
    assert "pregnancy" in fired(result)


# ----------------------------------------------------------------------------- computed values
@pytest.mark.parametrize("weight,height,bmi", [
    (70, 175, 22.9),       # 22.857...
    (68.4, 165, 25.1),     # 25.124...
    (50, 160, 19.5),       # 19.531...
    (120.5, 182.3, 36.3),  # 36.258...
    (81, 180, 25.0),       # exactly 25
])
def test_bmi_to_one_decimal(run, weight, height, bmi):
    value = run({"weight_kg": weight, "height_cm": height}).computed["bmi"]
    assert value == pytest.approx(bmi, abs=1e-9)
    assert round(value, 1) == value


def test_bmi_unknown_without_both_inputs(run):
    assert run({"weight_kg": 70}).computed["bmi"] is None
    assert run({"height_cm": 170}).computed["bmi"] is None


@pytest.mark.parametrize("born,age", [
    ("2008-03-15", 18),   # 18th birthday on the as_of date
    ("2008-03-16", 17),   # one day before it
    ("1961-03-15", 65),
    ("1961-03-16", 64),
    ("1990-01-01", 36),
])
def test_age_in_whole_years_on_and_before_a_birthday(run, born, age):
    result = run({"date_of_birth": born})
    assert result.computed["age"] == age
    assert ("under-18" in fired(result)) is (age < 18)
    assert ("age-65-plus" in fired(result)) is (age >= 65)


def test_age_of_someone_born_on_29_february(run):
    assert run({"date_of_birth": "2008-02-29"}, as_of=datetime.date(2026, 2, 28)).computed["age"] == 17
    assert run({"date_of_birth": "2008-02-29"}, as_of=datetime.date(2026, 3, 1)).computed["age"] == 18


def test_age_unknown_without_date_of_birth(run):
    result = run({})
    assert result.computed["age"] is None
    assert not {"under-18", "age-65-plus"} & fired(result)


# ---------------------------------------------------------------------------- answer checking
@pytest.mark.parametrize("answers,item", [
    ({"date_of_birth": "2026-03-16"}, "date_of_birth"),   # in the future
    ({"date_of_birth": "1900-01-01"}, "date_of_birth"),   # over 120 years ago
    ({"height_cm": 99}, "height_cm"),
    ({"weight_kg": 351}, "weight_kg"),
    ({"bp_systolic": 261}, "bp_systolic"),
    ({"bp_diastolic": 29}, "bp_diastolic"),
    ({"phq9_1": 4}, "phq9_1"),
    ({"auditc_1": 5}, "auditc_1"),
    ({"use_cannabis": "sometimes"}, "use_cannabis"),
    ({"medical_conditions": ["aneurysm", "gout"]}, "medical_conditions"),
    ({"pregnant": True}, "pregnant"),
])
def test_impossible_answers_are_rejected(qs, rs, answers, item):
    result = evaluate(qs, rs, answers, as_of=AS_OF)
    assert [problem.item_id for problem in result.rejected] == [item]


@pytest.mark.parametrize("born,accepted", [
    ("1906-03-15", True),    # exactly 120 years before as_of
    ("1906-03-14", False),   # a day more than 120 years
])
def test_date_of_birth_up_to_120_years_ago_is_accepted(qs, born, accepted):
    _, problems = qs.normalize_answers({"date_of_birth": born}, AS_OF)
    assert (problems == []) is accepted


def test_diastolic_must_be_lower_than_systolic(qs):
    def failed(answers):
        ctx = qs.resolve(qs.normalize_answers(answers, AS_OF)[0], AS_OF)
        return [check.id for check in qs.failed_checks(ctx)]

    assert failed({"bp_systolic": 120, "bp_diastolic": 80}) == []
    assert failed({"bp_systolic": 120, "bp_diastolic": 119}) == []
    assert len(failed({"bp_systolic": 120, "bp_diastolic": 120})) == 1
    assert len(failed({"bp_systolic": 80, "bp_diastolic": 120})) == 1
    assert failed({"bp_diastolic": 120}) == []
