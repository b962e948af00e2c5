"""Trying a draft rule set on a past submission or an answers file: which flags would fire and why,
beside the flags it got at the time. Nothing is stored but an audit event without answers."""

from __future__ import annotations

import io
import json

from sqlalchemy import func, select

from screening import publishing
from screening.db import db
from screening.models import Draft, Intake, Submission
from test_admin_support import RS_PAGE, admin_client, audit_events, plain, submit  # noqa: F401
from test_clinician_support import case_answers, csrf_from, make_submission, staff_app  # noqa: F401

TRY = f"{RS_PAGE}/try"
RULE = f"{RS_PAGE}/rules/bp-crisis-range"


def snapshot(app, submission_id: int):
    with app.app_context():
        submission = db.session.get(Submission, submission_id)
        draft = publishing.get_draft("rule_set", "ketamine-safety")
        return (json.dumps(submission.result, sort_keys=True), json.dumps(submission.answers, sort_keys=True),
                draft.yaml_text if draft else None,
                tuple(db.session.scalar(select(func.count(m.id))) for m in (Submission, Intake, Draft)))


def test_a_draft_threshold_is_tried_on_a_past_submission(staff_app, admin_client):
    sid = make_submission(staff_app, case_answers("06-urgent-bp-crisis.json"), name="Petra Private")
    other = make_submission(staff_app, case_answers("01-suitable-candidate.json"), name="Olga Other")
    # A draft that moves the crisis threshold above this patient's 186 (its examples now fail: it can still be tried).
    assert submit(admin_client, RULE, RULE, {"th-any.0.gte": "190"}).status_code == 303

    listing = plain(admin_client.get(TRY))
    assert f"No. {sid}" in listing and f"No. {other}" in listing
    assert "Petra Private" not in listing and "Olga Other" not in listing  # ids and dates, not patients

    before = snapshot(staff_app, sid)
    events_before = len(audit_events(staff_app))
    response = admin_client.post(TRY, data={"csrf_token": csrf_from(admin_client, TRY), "submission": str(sid)})
    assert response.status_code == 200
    text = plain(response)
    row = text.split("bp-crisis-range")[1].split("lamotrigine")[0]
    assert "would no longer fire" in row
    assert "does not fire" in row and "URGENT fired" in row
    assert "bp_systolic = 186 ≥ 180" in row  # why it fired at the time
    assert "lamotrigine" in text and "INFO fires" in text.split("lamotrigine")[1]
    assert "rule set ketamine-safety version 1" in text

    assert snapshot(staff_app, sid) == before  # the submission, the draft and the tables are unchanged
    events = audit_events(staff_app)
    assert len(events) == events_before + 1
    actor, action, target, detail = events[-1]
    assert (action, target, detail) == ("admin.dry_run", "rule_set:ketamine-safety", {"draft": True, "submission": sid})


def test_an_uploaded_answers_file_can_be_tried(staff_app, admin_client):
    answers = case_answers("02-exclude-vascular.json")
    upload = {"csrf_token": csrf_from(admin_client, TRY),
              "answers_file": (io.BytesIO(json.dumps({"question_set": "ketamine-intake", "answers": answers}).encode()),
                               "answers.json")}
    response = admin_client.post(TRY, data=upload, content_type="multipart/form-data")
    assert response.status_code == 200
    text = plain(response)
    assert "The answers file" in text and "vascular-contraindication" in text and "EXCLUDE fires" in text
    assert "At the time" not in text
    assert audit_events(staff_app, "admin.dry_run")[-1][3] == {"draft": False, "answers": "uploaded file"}

    bad = admin_client.post(TRY, data={"csrf_token": csrf_from(admin_client, TRY),
                                       "answers_file": (io.BytesIO(b"not json"), "answers.json")},
                            content_type="multipart/form-data")
    assert bad.status_code == 400 and "not a JSON document" in plain(bad)
    nothing = admin_client.post(TRY, data={"csrf_token": csrf_from(admin_client, TRY)})
    assert nothing.status_code == 400 and "Choose a past submission" in plain(nothing)
