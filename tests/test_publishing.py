"""Structured edits, version diffs, and the draft -> publish -> rollback workflow."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from screening import audit, editing, publishing
from screening.content import current_question_set_version, current_rule_set_version
from screening.db import db
from screening.diff import condition_text, diff_question_sets, diff_rule_sets
from screening.invitations import create_invitation
from screening.models import AuditEvent, Draft, User
from screening.questions import parse_question_set
from screening.rules import parse_rule_set

QS, RS = "question_set", "rule_set"


@pytest.fixture
def admin_id(app_ctx):
    user = User(email="admin@example.org", password_hash="unused", role="admin")
    db.session.add(user)
    db.session.commit()
    return user.id


@pytest.fixture
def texts(app_ctx):
    return (publishing.draft_or_current_text(QS, "ketamine-intake"),
            publishing.draft_or_current_text(RS, "ketamine-safety"))


def test_an_edit_changes_only_what_it_edits_and_keeps_comments(texts):
    qs_text, _ = texts
    edited = editing.set_item_fields(qs_text, "phq9_1", text="Changed wording", help="A hint")
    changed = [(a, b) for a, b in zip(qs_text.splitlines(), edited.splitlines()) if a != b]
    assert changed[0] == ("        text: Little interest or pleasure in doing things", "        text: Changed wording")
    assert "# Default pre-consultation intake" in edited
    loaded = parse_question_set(edited)
    assert (loaded.items["phq9_1"].text, loaded.items["phq9_1"].help) == ("Changed wording", "A hint")


def test_add_move_and_remove_items_and_sections(texts):
    qs_text, _ = texts
    text = editing.add_item(qs_text, "vitals", {"id": "pulse", "type": "integer", "text": "Pulse?", "min": 20, "max": 250})
    text = editing.move_item(text, "pulse", -1)
    text = editing.add_section(text, "extra", "Extra", {"id": "extra_q", "type": "text", "text": "Anything?"})
    text = editing.move_section(text, "extra", -1)
    text = editing.remove_item(text, "tms_history")
    loaded = parse_question_set(text)
    vitals = next(s for s in loaded.sections if s.id == "vitals")
    assert [i.id for i in vitals.items] == ["bp_systolic", "bp_diastolic", "pulse", "bp_measured_on"]
    assert [s.id for s in loaded.sections][-2:] == ["extra", "vitals"]
    assert "tms_history" not in loaded.items
    with pytest.raises(editing.EditError, match="no question with id 'nope'"):
        editing.remove_item(text, "nope")


def test_moving_the_first_item_up_goes_to_the_previous_section(texts):
    text = editing.move_item(texts[0], "date_of_birth", -1)
    consent = parse_question_set(text).sections[0]
    assert [i.id for i in consent.items][-1] == "date_of_birth"


def test_rule_thresholds_are_listed_and_editable(texts):
    _, rs_text = texts
    listed = editing.rule_thresholds(rs_text, "bp-crisis-range")
    assert [(subject, op, value) for _, subject, op, value in listed] == [
        ("bp_systolic", "gte", 180), ("bp_diastolic", "gte", 120)]
    edited = editing.set_rule_fields(rs_text, "bp-crisis-range", severity="urgent",
                                     threshold_values={listed[0][0]: 185})
    assert "{answer: bp_systolic, gte: 185}" in edited
    with pytest.raises(editing.EditError, match="has no threshold"):
        editing.set_rule_fields(rs_text, "bp-crisis-range", threshold_values={("any", 5, "gte"): 1})


def test_publishing_an_invalid_draft_is_refused_with_its_problems(app_ctx, texts):
    publishing.save_draft(QS, "ketamine-intake", texts[0].replace("type: yes_no", "type: yesno", 1), None)
    row, problems = publishing.publish_draft(QS, "ketamine-intake", None)
    assert row is None
    assert "type: Input should be 'yes_no'" in str(problems[0])
    assert current_question_set_version("ketamine-intake").version == 1
    assert publishing.get_draft(QS, "ketamine-intake") is not None  # the admin's text is kept


def test_a_question_set_change_that_breaks_the_rules_is_refused(app_ctx, texts):
    publishing.save_draft(QS, "ketamine-intake", editing.remove_item(texts[0], "escort_available"), None)
    row, problems = publishing.publish_draft(QS, "ketamine-intake", None)
    assert row is None
    assert "would break the published rule set ketamine-safety v1" in str(problems[0])
    assert any("unknown question id 'escort_available'" in str(p) for p in problems)


def test_a_threshold_change_needs_examples_that_agree(app_ctx, texts):
    rs_text = texts[1]
    path = editing.rule_thresholds(rs_text, "bp-crisis-range")[0][0]
    publishing.save_draft(RS, "ketamine-safety", editing.set_rule_fields(
        rs_text, "bp-crisis-range", threshold_values={path: 185}), None)
    row, problems = publishing.publish_draft(RS, "ketamine-safety", None)
    assert row is None
    assert any("rule 'bp-crisis-range' example 1: expected to fire but it did not fire" in str(p) for p in problems)


def test_publish_pins_old_intakes_and_rollback_publishes_a_new_version(app_ctx, texts, admin_id):
    old_intake, _ = create_invitation()
    publishing.save_draft(QS, "ketamine-intake", editing.set_item_fields(texts[0], "phq9_1", text="New wording"), admin_id)
    row, problems = publishing.publish_draft(QS, "ketamine-intake", admin_id, "admin@example.org")
    assert problems == [] and row.version == 2 and row.published_by == "admin@example.org"
    assert publishing.get_draft(QS, "ketamine-intake") is None
    new_intake, _ = create_invitation()
    assert old_intake.question_set_version.version == 1
    assert new_intake.question_set_version.version == 2

    restored, problems = publishing.rollback(QS, "ketamine-intake", 1, admin_id)
    assert problems == [] and restored.version == 3
    assert restored.content_hash == old_intake.question_set_version.content_hash
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["publish", "rollback"]
    assert audit.verify() == []


def test_import_of_a_broken_file_changes_nothing(app_ctx, texts, admin_id):
    before = db.session.scalars(select(Draft)).all()
    draft, problems = publishing.import_text(texts[1].replace("severity: urgent", "severity: critical", 1), admin_id, "rules.yaml")
    assert draft is None and problems and problems[0].file == "rules.yaml"
    assert db.session.scalars(select(Draft)).all() == before
    draft, problems = publishing.import_text("a: [unclosed\n", admin_id, "bad.yaml")
    assert draft is None and "invalid YAML" in str(problems[0])


def test_import_of_a_valid_file_becomes_the_draft(app_ctx, texts, admin_id):
    edited = texts[1].replace("Kroenke et al. 2001", "Kroenke, Spitzer and Williams 2001")
    draft, problems = publishing.import_text(edited, admin_id, "rules.yaml")
    assert problems == [] and draft.kind == RS and draft.yaml_text == edited
    assert current_rule_set_version("ketamine-intake").version == 1


def test_diff_names_questions_and_rules_added_removed_and_changed(texts):
    qs_text, rs_text = texts
    new = editing.add_item(qs_text, "vitals", {"id": "pulse", "type": "integer", "text": "Pulse?"})
    new = editing.remove_item(new, "tms_history")
    new = editing.set_item_fields(new, "phq9_1", required=False)
    assert [str(c) for c in diff_question_sets(qs_text, new)] == [
        "question 'pulse' added: in vitals: “Pulse?”",
        "question 'tms_history' removed: was in depression_history",
        "question 'phq9_1' changed: required: yes → (none)",
    ]
    path = editing.rule_thresholds(rs_text, "depression-severe")[0][0]
    new_rules = editing.set_rule_fields(rs_text, "depression-severe", severity="review", threshold_values={path: 21})
    assert [str(c) for c in diff_rule_sets(rs_text, new_rules)] == [
        "rule 'depression-severe' changed: severity: “info” → “review”; when: phq9 ≥ 20 → phq9 ≥ 21"]


def test_condition_text_reads_like_a_sentence():
    assert condition_text({"any": [{"answer": "a", "gte": 1}, {"all": [{"not": {"answered": "b"}},
                                                                        {"band": "c", "eq": "positive"}]}]}) == \
        "a ≥ 1 or (not (b answered) and c band = positive)"
