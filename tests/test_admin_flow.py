"""The whole admin story: change a question's wording and a rule's threshold through the forms, preview,
publish; an intake begun before keeps its versions, a new one gets the new ones."""

from __future__ import annotations

from intake_helpers import GOOD_PAGES, complete_intake, complete_section, invite, open_link, page
from screening.db import db
from screening.models import Intake, Submission
from test_admin_support import QS_PAGE, RS_PAGE, admin_client, click, plain, submit  # noqa: F401
from test_clinician_support import staff_app  # noqa: F401

OLD_WORDING = "Little interest or pleasure in doing things"
NEW_WORDING = "Little interest or pleasure in the things you usually enjoy"
RULE = f"{RS_PAGE}/rules/bp-crisis-range"


def pinned(app, intake_id: int) -> tuple[int, int]:
    with app.app_context():
        intake = db.session.get(Intake, intake_id)
        return intake.question_set_version.version, intake.rule_set_version.version


def test_publishing_pins_intakes_in_progress_and_new_intakes_get_the_new_versions(staff_app, admin_client):
    # A patient starts before the change and gets through the first pages.
    old_id, old_token = invite(staff_app)
    old_patient = staff_app.test_client()
    open_link(old_patient, old_token)
    for section_id, answers in GOOD_PAGES[:3]:
        assert complete_section(old_patient, section_id, answers).status_code == 303

    # The admin changes a question's wording and a rule's threshold (with its examples), previews, publishes.
    item = f"{QS_PAGE}/items/phq9_1"
    assert submit(admin_client, item, item, {"text": NEW_WORDING}).status_code == 303
    preview = admin_client.get(f"{QS_PAGE}/preview?section=phq9")
    assert NEW_WORDING in page(preview) and OLD_WORDING not in page(preview)
    assert click(admin_client, QS_PAGE, f"{QS_PAGE}/publish").status_code == 303
    assert submit(admin_client, RULE, RULE, {
        "th-any.0.gte": "185", "examples-0-answers": "bp_systolic: 185, bp_diastolic: 95",
        "examples-1-answers": "bp_systolic: 184, bp_diastolic: 95"}).status_code == 303
    assert click(admin_client, RS_PAGE, f"{RS_PAGE}/publish").status_code == 303
    home = plain(admin_client.get("/admin/"))
    assert "new intakes get version 2" in home and "flags new submissions with version 2" in home

    # The patient who had started still sees the wording of the version they began with...
    text = page(old_patient.get("/intake/section/phq9"))
    assert OLD_WORDING in text and NEW_WORDING not in text
    # ...and is flagged by the rules they began with: 182/90 is a crisis under version 1 (>= 180).
    pages = [(sid, dict(answers)) for sid, answers in GOOD_PAGES[3:]]
    pages[-1] = ("vitals", {**pages[-1][1], "bp_systolic": "182", "bp_diastolic": "90"})
    complete_intake(old_patient, pages)
    assert pinned(staff_app, old_id) == (1, 1)

    # A new patient gets the new wording and the new rules.
    new_id, new_token = invite(staff_app)
    new_patient = staff_app.test_client()
    open_link(new_patient, new_token)
    for section_id, answers in GOOD_PAGES[:3]:
        complete_section(new_patient, section_id, answers)
    text = page(new_patient.get("/intake/section/phq9"))
    assert NEW_WORDING in text and OLD_WORDING not in text
    complete_intake(new_patient, [(sid, dict(a)) for sid, a in pages])
    assert pinned(staff_app, new_id) == (2, 2)

    with staff_app.app_context():
        flags = {s.intake_id: [f["rule"] for f in s.result["flags"]] for s in db.session.query(Submission)}
    assert "bp-crisis-range" in flags[old_id]  # 182 >= 180 (version 1)
    assert "bp-crisis-range" not in flags[new_id]  # 182 < 185 (version 2)
