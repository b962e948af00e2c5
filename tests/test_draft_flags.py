"""Urgent flags raised by a saved but unsent draft reach staff: the work list's alert, the invitations rows."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import text

from screening.db import db
from screening.draft_flags import note_draft_flags
from screening.models import Intake
from screening.submissions import evaluate_intake
from intake_helpers import GOOD_PAGES, complete_intake, complete_section, invite, load_intake, open_link, page
from test_clinician_support import clinician, clinician_client, csrf_from, staff_app  # noqa: F401

CALM_ASQ = dict(GOOD_PAGES)["suicide_risk"]
ACUTE_ASQ = {**CALM_ASQ, "asq_1": "yes", "asq_5": "yes"}  # thoughts of killing yourself right now: yes
PASSIVE_ASQ = {**CALM_ASQ, "asq_1": "yes", "asq_5": "no"}  # a positive screen, not acute (review level)
BEFORE_ASQ = GOOD_PAGES[:[s for s, _ in GOOD_PAGES].index("suicide_risk")]
ALERT_ONE = "1 intake in progress has an urgent answer not yet sent"


def patient_at_suicide_risk(app, name):
    """A patient who opened their link and answered every page before the suicide-risk one."""
    intake_id, token = invite(app, patient_name=name, clinic_ref="MRN-77")
    patient = app.test_client()
    assert open_link(patient, token).status_code in (302, 303)
    complete_intake(patient, BEFORE_ASQ, submit=False)
    return intake_id, patient


def save_asq(patient, answers):
    response = complete_section(patient, "suicide_risk", answers)
    assert response.status_code == 303, page(response)
    return response


def alert(client) -> str | None:
    found = re.search(r'<section class="urgent-drafts" role="alert".*?</section>', page(client.get("/staff/")), re.S)
    return html.unescape(found.group(0)) if found else None


def urgent_rows(client) -> str:
    return html.unescape(page(client.get("/staff/invitations?state=urgent_draft")))


def test_an_acute_answer_saved_and_left_alerts_staff_until_answered_no(staff_app, clinician_client):
    intake_id, patient = patient_at_suicide_risk(staff_app, "Ada Acute")
    invite(staff_app, patient_name="Olive Open")
    assert alert(clinician_client) is None
    response = save_asq(patient, ACUTE_ASQ)
    assert response.headers["Location"].startswith("/intake/support")  # the patient saw 988/911 ...
    # ... and closed the browser without sending.
    saved = load_intake(staff_app, intake_id)
    assert saved.state == "in_progress" and saved.submitted_at is None
    assert saved.draft_urgent_rules == ["asq-acute-positive"] and saved.draft_urgent_at is not None

    shown = alert(clinician_client)
    assert ALERT_ONE in shown
    assert "Ada Acute" in shown and "ref MRN-77" in shown and "saved " in shown
    assert "ACUTE POSITIVE suicide risk screen" in shown and "Contact the patient now" in shown
    assert 'href="/staff/invitations?state=urgent_draft"' in shown
    assert "Olive Open" not in shown

    rows = urgent_rows(clinician_client)
    assert "Ada Acute" in rows and "Olive Open" not in rows
    assert "Urgent answer, not sent yet: ACUTE POSITIVE suicide risk screen" in re.sub(r"<[^>]+>", "", rows)
    everyone = html.unescape(page(clinician_client.get("/staff/invitations")))
    assert everyone.count("Urgent answer, not sent yet:") == 1 and "Olive Open" in everyone

    first_flagged_at = saved.draft_urgent_at
    complete_section(patient, "trauma", dict(GOOD_PAGES)["trauma"])  # a later page: the flag still stands
    assert load_intake(staff_app, intake_id).draft_urgent_at == first_flagged_at

    save_asq(patient, {**ACUTE_ASQ, "asq_5": "no"})
    cleared = load_intake(staff_app, intake_id)
    assert cleared.draft_urgent_rules is None and cleared.draft_urgent_at is None
    assert alert(clinician_client) is None
    assert "Ada Acute" not in urgent_rows(clinician_client)
    assert "Urgent answer, not sent yet" not in page(clinician_client.get("/staff/invitations"))


def test_submitting_clears_the_draft_flag_and_the_submission_carries_it(staff_app, clinician_client):
    intake_id, patient = patient_at_suicide_risk(staff_app, "Sam Sent")
    save_asq(patient, ACUTE_ASQ)
    assert ALERT_ONE in alert(clinician_client)
    rest = GOOD_PAGES[len(BEFORE_ASQ) + 1:]
    complete_intake(patient, rest)
    submitted = load_intake(staff_app, intake_id)
    assert submitted.state == "submitted"
    assert submitted.draft_urgent_rules is None and submitted.draft_urgent_at is None
    assert alert(clinician_client) is None
    worklist = page(clinician_client.get("/staff/"))
    assert "Sam Sent" in worklist and "sev-tag-urgent" in worklist  # the submission's own flag took over
    assert "Urgent answer, not sent yet" not in page(clinician_client.get("/staff/invitations"))


def test_a_revoked_intake_does_not_alert(staff_app, clinician_client):
    intake_id, patient = patient_at_suicide_risk(staff_app, "Rita Revoked")
    save_asq(patient, ACUTE_ASQ)
    assert ALERT_ONE in alert(clinician_client)
    token = csrf_from(clinician_client, "/staff/invitations")
    clinician_client.post(f"/staff/invitations/{intake_id}/revoke", data={"csrf_token": token})
    revoked = load_intake(staff_app, intake_id)
    assert revoked.state == "revoked" and revoked.draft_urgent_rules is None
    assert alert(clinician_client) is None
    assert "Rita Revoked" not in urgent_rows(clinician_client)
    assert "Urgent answer, not sent yet" not in page(clinician_client.get("/staff/invitations"))


def test_a_review_level_answer_alone_does_not_alert(staff_app, clinician_client):
    intake_id, patient = patient_at_suicide_risk(staff_app, "Rae Review")
    save_asq(patient, PASSIVE_ASQ)
    with staff_app.app_context():
        severities = {f.severity for f in evaluate_intake(db.session.get(Intake, intake_id)).flags}
    assert "review" in severities and "urgent" not in severities
    assert load_intake(staff_app, intake_id).draft_urgent_rules is None
    assert alert(clinician_client) is None
    assert "Rae Review" not in urgent_rows(clinician_client)


def test_the_alert_counts_every_flagged_intake_and_lists_the_longest_waiting_first(staff_app, clinician_client):
    with staff_app.app_context():
        for n in range(7):
            intake_id, _ = invite(staff_app, patient_name=f"Patient {n}")
            intake = db.session.get(Intake, intake_id)
            intake.state = "in_progress"
            intake.answers = {"bp_systolic": 185 + n, "bp_diastolic": 90, "bp_measured_on": "2025-01-15"}
            note_draft_flags(intake)
            db.session.commit()
    shown = alert(clinician_client)
    assert "7 intakes in progress have an urgent answer not yet sent" in shown
    assert re.findall(r"<strong>(Patient \d)</strong>", shown) == [f"Patient {n}" for n in range(5)]
    assert "All 7 in the invitations list" in shown
    assert urgent_rows(clinician_client).count("Urgent answer, not sent yet:") == 7


def test_the_alert_query_reads_the_partial_index(staff_app):
    if not staff_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("reads SQLite's query plan")
    from sqlalchemy import func, select

    from screening.draft_flags import open_with_urgent_draft

    with staff_app.app_context():
        query = select(func.count()).select_from(Intake).where(open_with_urgent_draft())
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row[-1]) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "ix_intake_draft_urgent" in plan, plan


def test_upgrading_flags_the_urgent_drafts_saved_before_the_upgrade(app_ctx):
    """b3d7e1a90c42 evaluates the open drafts already saved: an acute answer given before it is not missed."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import MetaData, insert, select

    from screening.models import QuestionSetVersion, RuleSetVersion, utcnow
    from screening.schema import MIGRATIONS

    qs_id = db.session.scalar(select(QuestionSetVersion.id).limit(1))
    rs_id = db.session.scalar(select(RuleSetVersion.id).limit(1))
    db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="8a1e0c2d5b71")
    saved = utcnow().replace(microsecond=0)
    acute = {"asq_1": True, "asq_2": False, "asq_3": False, "asq_4": False, "asq_5": True}
    drafts = {1: ("in_progress", acute), 2: ("in_progress", {**acute, "asq_5": False}), 3: ("revoked", acute),
              4: ("not_started", {})}
    with db.engine.begin() as connection:
        old = MetaData()
        old.reflect(connection, only=["intake"])
        connection.execute(insert(old.tables["intake"]), [
            {"id": i, "token_hash": f"{i:064x}", "state": state, "question_set_version_id": qs_id,
             "rule_set_version_id": rs_id, "answers": answers, "completed_sections": [], "created_at": saved,
             "updated_at": saved} for i, (state, answers) in drafts.items()])
    upgrade(directory=str(MIGRATIONS))
    flags = {i.id: (i.draft_urgent_rules, i.draft_urgent_at) for i in db.session.scalars(select(Intake))}
    assert flags == {1: (["asq-acute-positive"], saved), 2: (None, None), 3: (None, None), 4: (None, None)}
