"""Admin pages through the test client: who gets in, the lists, editing through the forms and the YAML
editor, publishing (and refusals with their messages), version history, diffs, rollback, import, export."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from screening import publishing
from screening.content import current_question_set_version, current_rule_set_version
from screening.db import db
from screening.models import Draft, QuestionSetVersion, RuleSetVersion
from screening.questions import parse_question_set
from test_admin_support import (QS_PAGE, RS_PAGE, admin_client, audit_events, click, form_data, plain,  # noqa: F401
                                submit, text_of)
from test_clinician_support import clinician, clinician_client, csrf_from, staff_app  # noqa: F401

QS, RS = "question_set", "rule_set"


def draft_text(app, kind=QS, set_id="ketamine-intake") -> str | None:
    with app.app_context():
        draft = publishing.get_draft(kind, set_id)
        return draft.yaml_text if draft is not None else None


def published_version(app, kind=QS) -> int:
    with app.app_context():
        row = current_question_set_version("ketamine-intake") if kind == QS else current_rule_set_version("ketamine-intake")
        return row.version


# -- access ------------------------------------------------------------------------------------

def admin_urls(app) -> list[tuple[str, list[str]]]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin_home."):
            path = rule.rule.replace("<slug>", "question-sets").replace("<set_id>", "ketamine-intake")
            path = re.sub(r"<int:\w+>", "1", path)
            path = re.sub(r"<\w+>", "vitals" if "sections" in path else "phq9_1", path)
            urls.append((path, sorted(rule.methods - {"HEAD", "OPTIONS"})))
    return urls


def test_only_admins_reach_any_admin_page(staff_app, clinician_client):
    urls = admin_urls(staff_app)
    assert len(urls) >= 20
    anonymous = staff_app.test_client()
    anonymous_token = csrf_from(anonymous, "/sign-in")
    token = csrf_from(clinician_client, "/staff/")
    for path, methods in urls:
        for method in methods:
            data = {"csrf_token": anonymous_token} if method == "POST" else None
            response = anonymous.open(path, method=method, data=data)
            assert response.status_code == 302 and "/sign-in" in response.headers["Location"], (method, path)
            data = {"csrf_token": token} if method == "POST" else None
            assert clinician_client.open(path, method=method, data=data).status_code == 403, (method, path)
    with staff_app.app_context():
        assert db.session.scalar(select(func.count(Draft.id))) == 0


def test_nothing_changes_on_a_get(admin_client):
    for path in (f"{QS_PAGE}/publish", f"{QS_PAGE}/items/phq9_1/move", "/admin/import"):
        assert admin_client.get(path).status_code == 405, path
    # These ask first: their GET is the confirmation page (tests/test_confirmations.py).
    for path in (f"{QS_PAGE}/discard", f"{QS_PAGE}/items/phq9_1/remove", f"{QS_PAGE}/versions/1/rollback"):
        assert admin_client.get(path).status_code in (200, 303), path


def test_a_post_without_its_csrf_token_changes_nothing(staff_app, admin_client):
    data = {"text": "Changed without a token"}
    response = admin_client.post(f"{QS_PAGE}/items/phq9_1", data=data)
    assert response.status_code == 400
    assert draft_text(staff_app) is None


# -- the lists ---------------------------------------------------------------------------------

def test_admin_home_lists_sets_with_versions_drafts_and_what_the_patient_flow_uses(staff_app, admin_client):
    page = plain(admin_client.get("/admin/"))
    assert "ketamine-intake" in page and "ketamine-safety" in page
    assert page.count("In use") == 2 and "new intakes get version 1" in page
    assert "Draft" not in page.split("Rule sets")[0].split("Patient flow")[1]  # no draft yet
    submit(admin_client, f"{QS_PAGE}/items/phq9_1", f"{QS_PAGE}/items/phq9_1", {"text": "New wording"})
    page = plain(admin_client.get("/admin/"))
    assert "saved" in page and "boss@example.org" in page  # the draft, who saved it


# -- editing through the forms -----------------------------------------------------------------

def test_changing_a_question_through_its_form_saves_a_draft_and_leaves_the_live_version(staff_app, admin_client):
    response = submit(admin_client, f"{QS_PAGE}/items/phq9_1", f"{QS_PAGE}/items/phq9_1",
                      {"text": "Little interest or pleasure in things you usually enjoy", "help": "Think of the past two weeks."})
    assert response.status_code == 303 and response.headers["Location"].endswith("/items/phq9_1")
    page = plain(admin_client.get(response.headers["Location"]))
    assert "Saved to the draft" in page and "every rule example passes" in page
    text = draft_text(staff_app)
    assert "# Default pre-consultation intake" in text  # comments are kept
    loaded = parse_question_set(text)
    assert loaded.items["phq9_1"].text == "Little interest or pleasure in things you usually enjoy"
    assert loaded.items["phq9_1"].help == "Think of the past two weeks."
    assert published_version(staff_app) == 1  # not live until published
    assert audit_events(staff_app, "admin.")[-1][1:] == (
        "admin.draft_saved", "question_set:ketamine-intake", {"edit": "question", "item": "phq9_1"})
    set_page = plain(admin_client.get(QS_PAGE))
    assert "question 'phq9_1' changed: text:" in set_page  # the draft's changes from version 1


def test_choices_required_flag_and_range_are_edited_without_yaml(staff_app, admin_client):
    path = f"{QS_PAGE}/items/medical_conditions"
    page = text_of(admin_client.get(path))
    data = form_data(page, path)
    assert data["choices-0-value"] == "aneurysm" and data["choices-0-help"].startswith("An aneurysm is")
    data["choices-1-label"] = "An AVM (tangled blood vessels)"
    data["choices-2-value"] = data["choices-2-label"] = data["choices-2-help"] = ""  # removes brain_bleed
    empty = next(n for n in range(40) if f"choices-{n}-value" in data and not data[f"choices-{n}-value"] and n > 2)
    data[f"choices-{empty}-value"], data[f"choices-{empty}-label"] = "migraine", "Migraine"
    data.pop("required", None)
    response = admin_client.post(path, data=data)
    assert response.status_code == 303
    item = parse_question_set(draft_text(staff_app)).items["medical_conditions"]
    values = [c.value for c in item.choices]
    assert values[:2] == ["aneurysm", "avm"] and "brain_bleed" not in values and values[-1] == "migraine"
    assert item.choices[1].label == "An AVM (tangled blood vessels)"
    assert item.choices[0].help.startswith("An aneurysm is")  # the help of untouched choices is kept
    assert not item.required
    # Removing brain_bleed breaks the rule that names it: saved anyway, and the problem is shown.
    shown = plain(admin_client.get(path))
    assert "would break the published rule set" in plain(admin_client.get(QS_PAGE))
    assert "brain_bleed" in shown and "problem" in shown

    number_path = f"{QS_PAGE}/items/bp_systolic"
    response = submit(admin_client, number_path, number_path, {"min": "60", "max": "260", "unit": "mmHg"})
    assert response.status_code == 303
    # (the draft does not load while brain_bleed is missing, so read its YAML)
    assert "min: 60" in draft_text(staff_app) and "max: 260" in draft_text(staff_app)
    bad = submit(admin_client, number_path, number_path, {"min": "sixty"})
    assert bad.status_code == 400 and "enter a number" in plain(bad)


def test_a_scale_choice_value_must_be_a_whole_number(staff_app, admin_client):
    path = f"{QS_PAGE}/items/phq9_1"
    response = submit(admin_client, path, path, {"choices-0-value": "zero"})
    assert response.status_code == 400 and "a whole number" in plain(response)
    assert draft_text(staff_app) is None
    # Editing a shared choice list gives this question its own copy; the others keep the shared list.
    response = submit(admin_client, path, path, {"choices-3-label": "Every day"})
    assert response.status_code == 303
    loaded = parse_question_set(draft_text(staff_app))
    assert loaded.items["phq9_1"].choices[3].label == "Every day"
    assert loaded.items["phq9_2"].choices[3].label == "Nearly every day"


def test_add_move_and_remove_questions_and_sections(staff_app, admin_client):
    new_item = f"{QS_PAGE}/sections/vitals/new-item"
    response = submit(admin_client, new_item, new_item, {"id": "pulse", "type": "integer", "text": "Your pulse?",
                                                         "min": "20", "max": "250", "unit": "beats a minute"})
    assert response.status_code == 303 and response.headers["Location"].endswith("#item-pulse")
    taken = submit(admin_client, new_item, new_item, {"id": "pulse", "type": "text", "text": "Again?"})
    assert taken.status_code == 400 and "already used" in plain(taken)

    click(admin_client, QS_PAGE, f"{QS_PAGE}/items/pulse/move", direction="up")
    new_section = f"{QS_PAGE}/new-section"
    response = submit(admin_client, new_section, new_section, {
        "section_id": "sleep", "section_title": "Your sleep", "id": "sleep_hours", "type": "single_choice",
        "text": "How many hours do you sleep?", "choices-0-value": "lt6", "choices-0-label": "Less than 6",
        "choices-1-value": "6to8", "choices-1-label": "6 to 8", "choices-2-value": "gt8", "choices-2-label": "More than 8"})
    assert response.status_code == 303
    click(admin_client, QS_PAGE, f"{QS_PAGE}/sections/sleep/move", direction="up")
    click(admin_client, QS_PAGE, f"{QS_PAGE}/items/tms_history/remove")
    section_path = f"{QS_PAGE}/sections/sleep"
    assert submit(admin_client, section_path, section_path, {"title": "Sleep", "intro": "A few questions."}).status_code == 303

    loaded = parse_question_set(draft_text(staff_app))
    vitals = next(s for s in loaded.sections if s.id == "vitals")
    assert [i.id for i in vitals.items] == ["bp_systolic", "bp_diastolic", "pulse", "bp_measured_on"]
    assert [s.id for s in loaded.sections][-2:] == ["sleep", "vitals"]
    sleep = loaded.sections[-2]
    assert (sleep.title, sleep.intro) == ("Sleep", "A few questions.")
    assert [c.value for c in loaded.items["sleep_hours"].choices] == ["lt6", "6to8", "gt8"]
    assert "tms_history" not in loaded.items
    edits = [d.get("edit") for _, action, _, d in audit_events(staff_app, "admin.draft_saved")]
    assert edits == ["add_question", "move_question", "add_section", "move_section", "remove_question", "section"]

    # The first section cannot move up: refused with a reason, nothing saved.
    before = draft_text(staff_app)
    response = click(admin_client, QS_PAGE, f"{QS_PAGE}/sections/consent/move", direction="down")
    assert response.status_code == 303
    response = admin_client.post(f"{QS_PAGE}/sections/consent/move",
                                 data={"csrf_token": csrf_from(admin_client, QS_PAGE), "direction": "up"})
    assert response.status_code == 303  # consent is second now; moving up works
    assert draft_text(staff_app) == before
    response = admin_client.post(f"{QS_PAGE}/sections/consent/move",
                                 data={"csrf_token": csrf_from(admin_client, QS_PAGE), "direction": "up"},
                                 follow_redirects=True)
    assert "Not changed: section 'consent' cannot move further" in plain(response)


# -- rules ---------------------------------------------------------------------------------------

RULE = f"{RS_PAGE}/rules/bp-crisis-range"


def test_a_threshold_change_is_refused_until_its_examples_agree(staff_app, admin_client):
    page = text_of(admin_client.get(RULE))
    data = form_data(page, RULE)
    assert data["th-any.0.gte"] == "180" and data["th-any.1.gte"] == "120"
    assert data["examples-0-answers"] == "bp_systolic: 180, bp_diastolic: 95" and data["examples-0-fires"] == "yes"

    response = submit(admin_client, RULE, RULE, {"th-any.0.gte": "185", "severity": "urgent"})
    assert response.status_code == 303
    shown = plain(admin_client.get(RULE))
    assert "Saved to the draft. The draft has 1 problem " in shown
    assert "example 1: expected to fire but it did not fire: bp_systolic = 180, not ≥ 185" in shown
    assert "Fires when: bp_systolic ≥ 185 or bp_diastolic ≥ 120" in shown

    refused = click(admin_client, RS_PAGE, f"{RS_PAGE}/publish")
    assert refused.status_code == 422
    text = plain(refused)
    assert "Not published." in text
    assert "draft:103: rule 'bp-crisis-range' example 1: expected to fire but it did not fire" in text
    assert published_version(staff_app, RS) == 1

    # Fix the examples at the new cut-off: 185 fires, 184 does not.
    response = submit(admin_client, RULE, RULE, {"examples-0-answers": "bp_systolic: 185, bp_diastolic: 95",
                                                 "examples-1-answers": '{"bp_systolic": 184, "bp_diastolic": 95}',
                                                 "examples-8-answers": "bp_systolic: 250",
                                                 "examples-8-fires": "yes", "examples-6-remove": "y",
                                                 "examples-2-note": "diastolic at the cut-off"})
    assert response.status_code == 303
    assert "every rule example passes" in plain(admin_client.get(RULE))
    published = click(admin_client, RS_PAGE, f"{RS_PAGE}/publish")
    assert published.status_code == 303 and published.headers["Location"].endswith("/versions")
    assert published_version(staff_app, RS) == 2
    with staff_app.app_context():
        row = current_rule_set_version("ketamine-intake")
        assert row.published_by == "boss@example.org"
        assert "{answer: bp_systolic, gte: 185}" in row.yaml_text
        assert "- {answers: {bp_systolic: 250}, fires: true}" in row.yaml_text
        assert "- {answers: {bp_systolic: 165, bp_diastolic: 120}, fires: true, note: diastolic at the cut-off}" \
            in row.yaml_text
        assert "bp_systolic: 150" not in row.yaml_text.split("id: asq-non-acute-positive")[0].split("bp-crisis-range")[1]
        assert publishing.get_draft(RS, "ketamine-safety") is None
    assert audit_events(staff_app, "publish")[-1][1:3] == ("publish", "rule_set:ketamine-safety")


def test_unreadable_example_answers_are_shown_back_not_saved(staff_app, admin_client):
    response = submit(admin_client, RULE, RULE, {"examples-8-answers": "bp_systolic: [185", "examples-8-fires": "yes"})
    assert response.status_code == 400
    text = plain(response)
    assert "Example 9: write answers as" in text
    assert "bp_systolic: [185" in text  # what was typed is still there
    assert draft_text(staff_app, RS, "ketamine-safety") is None


# -- the YAML editor -----------------------------------------------------------------------------

YAML = f"{QS_PAGE}/yaml"


def test_yaml_editor_keeps_an_invalid_draft_and_marks_its_lines(staff_app, admin_client):
    text = text_of(admin_client.get(YAML))
    original = form_data(text, YAML)["text"]
    with staff_app.app_context():
        assert original == current_question_set_version("ketamine-intake").yaml_text
    broken = original.replace("type: yes_no", "type: yesno", 1)
    line = next(n for n, l in enumerate(broken.split("\n"), 1) if "type: yesno" in l)
    response = admin_client.post(YAML, data={"csrf_token": csrf_from(admin_client, YAML), "text": broken})
    assert response.status_code == 303
    assert draft_text(staff_app) == broken  # kept as typed, although it does not validate
    page = text_of(admin_client.get(YAML))
    assert f'<a href="#L{line}" data-line="{line}">line {line}</a>' in page
    marked = re.search(rf'<li id="L{line}" class="has-problem">.*?</li>', page, re.S).group(0)
    assert "type: yesno" in marked and "Input should be" in marked
    assert form_data(page, YAML)["text"] == broken

    refused = click(admin_client, YAML, f"{QS_PAGE}/publish")
    assert refused.status_code == 422
    assert f"draft:{line}: sections[0].items[0].type: Input should be" in plain(refused)
    assert published_version(staff_app) == 1

    # Not YAML at all: kept too; the forms say to use the YAML editor.
    admin_client.post(YAML, data={"csrf_token": csrf_from(admin_client, YAML), "text": "id: [unclosed\n"})
    assert "invalid YAML" in plain(admin_client.get(YAML))
    assert "not readable YAML" in plain(admin_client.get(QS_PAGE))
    response = admin_client.get(f"{QS_PAGE}/items/phq9_1", follow_redirects=True)
    assert "Fix it in the YAML editor first" in plain(response)


def test_yaml_editor_edit_and_publish(staff_app, admin_client):
    original = form_data(text_of(admin_client.get(YAML)), YAML)["text"]
    edited = original.replace("title: Ketamine therapy pre-consultation intake", "title: Pre-visit questions")
    admin_client.post(YAML, data={"csrf_token": csrf_from(admin_client, YAML), "text": edited.replace("\n", "\r\n")})
    assert draft_text(staff_app) == edited  # line endings from the browser are normalized
    assert click(admin_client, YAML, f"{QS_PAGE}/publish").status_code == 303
    with staff_app.app_context():
        assert current_question_set_version("ketamine-intake").title == "Pre-visit questions"


def test_a_draft_cannot_change_its_set_id(staff_app, admin_client):
    original = form_data(text_of(admin_client.get(YAML)), YAML)["text"]
    admin_client.post(YAML, data={"csrf_token": csrf_from(admin_client, YAML),
                                  "text": original.replace("id: ketamine-intake", "id: other-intake", 1)})
    refused = click(admin_client, YAML, f"{QS_PAGE}/publish")
    assert refused.status_code == 422 and "the id must stay 'ketamine-intake'" in plain(refused)
    with staff_app.app_context():
        assert db.session.scalar(select(func.count(QuestionSetVersion.id))) == 1


def test_discarding_the_draft(staff_app, admin_client):
    submit(admin_client, f"{QS_PAGE}/items/phq9_1", f"{QS_PAGE}/items/phq9_1", {"text": "Changed"})
    response = click(admin_client, QS_PAGE, f"{QS_PAGE}/discard")
    assert response.status_code == 303 and draft_text(staff_app) is None
    assert audit_events(staff_app, "admin.draft_discarded")


# -- history, diff, rollback, export --------------------------------------------------------------

def publish_wording(client, text: str) -> None:
    submit(client, f"{QS_PAGE}/items/phq9_1", f"{QS_PAGE}/items/phq9_1", {"text": text})
    assert click(client, QS_PAGE, f"{QS_PAGE}/publish").status_code == 303


def test_history_diff_rollback_and_export(staff_app, admin_client):
    publish_wording(admin_client, "New wording one")
    remove = click(admin_client, QS_PAGE, f"{QS_PAGE}/items/escort_available/remove")
    assert remove.status_code == 303
    refused = click(admin_client, QS_PAGE, f"{QS_PAGE}/publish")  # the rule set uses escort_available
    assert refused.status_code == 422
    assert "would break the published rule set ketamine-safety v1" in plain(refused)
    click(admin_client, QS_PAGE, f"{QS_PAGE}/discard")

    history = plain(admin_client.get(f"{QS_PAGE}/versions"))
    assert "boss@example.org" in history and "shipped default" in history
    assert "published version 2" in history

    diff = plain(admin_client.get(f"{QS_PAGE}/diff?a=1&b=2"))
    assert "question phq9_1" in diff
    for a, b in (("zz", "9" * 20), ("1", "\u00b2"), ("99", "1")):  # no such version: said so, never a 500
        refused = admin_client.get(f"{QS_PAGE}/diff", query_string={"a": a, "b": b}, follow_redirects=True)
        assert refused.status_code == 200 and "Choose two versions to compare." in plain(refused), (a, b)
    assert "text: “Little interest or pleasure in doing things” → “New wording one”" in diff

    response = click(admin_client, f"{QS_PAGE}/versions", f"{QS_PAGE}/versions/1/rollback")
    assert response.status_code == 303
    with staff_app.app_context():
        row = current_question_set_version("ketamine-intake")
        assert row.version == 3 and "Little interest or pleasure in doing things" in row.yaml_text
    history = plain(admin_client.get(f"{QS_PAGE}/versions"))
    assert "a rollback to version 1" in history
    assert [e[1] for e in audit_events(staff_app) if e[1] in ("publish", "rollback")] == ["publish", "rollback"]

    export = admin_client.get(f"{QS_PAGE}/versions/2/export")
    assert export.status_code == 200
    assert export.headers["Content-Disposition"] == 'attachment; filename="ketamine-intake-v2.yaml"'
    assert export.headers["Cache-Control"] == "no-store"
    assert "New wording one" in export.get_data(as_text=True)
    assert admin_client.get(f"{QS_PAGE}/versions/9/export").status_code == 404


# -- import ----------------------------------------------------------------------------------------

def upload(client, content: bytes, name: str = "rules.yaml"):
    return client.post("/admin/import", data={"csrf_token": csrf_from(client, "/admin/"),
                                              "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def counts(app) -> tuple:
    with app.app_context():
        return tuple(db.session.scalar(select(func.count(m.id))) for m in (Draft, QuestionSetVersion, RuleSetVersion))


def test_import_of_a_broken_file_changes_nothing(staff_app, admin_client):
    with staff_app.app_context():
        rules = current_rule_set_version("ketamine-intake").yaml_text
    submit(admin_client, RULE, RULE, {"source": "An existing draft"})
    before, draft_before = counts(staff_app), draft_text(staff_app, RS, "ketamine-safety")
    broken = rules.replace("severity: urgent", "severity: critical", 1)
    response = upload(admin_client, broken.encode())
    assert response.status_code == 400
    text = plain(response)
    assert "Not imported. Nothing was changed" in text and "rules.yaml:" in text and "severity" in text
    for content, name, reason in [(b"a: [unclosed\n", "bad.yaml", "invalid YAML"),
                                  (rules.encode(), "rules.txt", "only .yaml or .yml"),
                                  (b"\xff\xfe", "x.yaml", "not UTF-8"),
                                  (b"a: 1\n" * 200_000, "big.yaml", "larger than")]:
        response = upload(admin_client, content, name)
        assert response.status_code == 400 and reason in plain(response), name
    assert counts(staff_app) == before
    assert draft_text(staff_app, RS, "ketamine-safety") == draft_before
    assert not audit_events(staff_app, "import")


def test_import_of_a_valid_file_becomes_the_draft(staff_app, admin_client):
    with staff_app.app_context():
        rules = current_rule_set_version("ketamine-intake").yaml_text
    edited = rules.replace("2017 ACC/AHA high blood pressure guideline (hypertensive crisis)", "ACC/AHA 2017")
    response = upload(admin_client, edited.encode(), "my rules.yaml")
    assert response.status_code == 303 and response.headers["Location"].endswith(RS_PAGE)
    assert draft_text(staff_app, RS, "ketamine-safety") == edited
    assert published_version(staff_app, RS) == 1
    assert audit_events(staff_app, "import")[0][1:3] == ("import", "rule_set:ketamine-safety")
