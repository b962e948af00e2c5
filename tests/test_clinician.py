"""The clinician side: access, the work list, invitations, the summary page, review, demo data."""

from __future__ import annotations

import pytest

import datetime
import logging
import re

from sqlalchemy import select

from screening.clinician.models import SubmissionReview, record_review
from screening.clinician.worklist import Cursor, worklist_page
from screening.db import db
from screening.invitations import create_invitation, find_intake
from screening.models import AuditEvent, Intake, Submission, User
from test_clinician_support import (case_answers, clinician, clinician_client, csrf_from, make_submission,  # noqa: F401
                                    make_user, sign_in, staff_app)

T0 = datetime.datetime(2026, 3, 1, 9, 0)


def audit_events(app, action):
    with app.app_context():
        return [(e.actor, e.target, e.detail) for e in
                db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


def names_in_order(html: str) -> list[str]:
    return re.findall(r'<td class="patient">\s*<a href="/staff/submissions/\d+">([^<]+)</a>', html)


# -- access ------------------------------------------------------------------------------------

def _staff_urls(app):
    """Every URL of the clinician and admin blueprints, with ids filled in."""
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in ("clinician", "admin_home"):
            path = re.sub(r"<(?:int:)?(\w+)>", "1", rule.rule)
            urls.append((path, sorted(rule.methods - {"HEAD", "OPTIONS"})))
    return urls


def test_nobody_signed_out_reaches_patient_data(staff_app):
    sid = make_submission(staff_app, case_answers("02-exclude-vascular.json"), name="Zed Secretname")
    urls = _staff_urls(staff_app)
    assert len(urls) >= 8 and any("/submissions/" in u for u, _ in urls)
    client = staff_app.test_client()
    for path, methods in urls:
        path = path.replace("/1", f"/{sid}")
        for method in methods:
            response = client.open(path, method=method)
            if method == "POST" and response.status_code == 400:  # refused by CSRF before anything else
                assert "This page had expired" in response.get_data(as_text=True), (method, path)
            else:
                assert response.status_code == 302, (method, path)
                assert "/sign-in" in response.headers["Location"]
            assert "Zed Secretname" not in response.get_data(as_text=True)


def test_a_patient_intake_session_grants_no_staff_access(staff_app):
    """Opening an intake link puts that intake in the browser session; it must not open staff pages."""
    sid = make_submission(staff_app, case_answers("01-suitable-candidate.json"), name="Other Person")
    with staff_app.app_context():
        _, token = create_invitation("Link Holder", None, "REF-9")
        db.session.commit()
    client = staff_app.test_client()
    client.get(f"/i/{token}")
    for path in ("/staff/", f"/staff/submissions/{sid}", f"/staff/submissions/{sid}/summary.pdf",
                 "/staff/invitations", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"], path


def test_one_intake_link_never_opens_another_intakes_answers(staff_app):
    with staff_app.app_context():
        a, token_a = create_invitation("Alpha Patient", None, "A-1")
        b, token_b = create_invitation("Bravo Patient", None, "B-1")
        a.answers = {"consent_given": True, "escort_available": True, "date_of_birth": "1933-03-03"}
        b.answers = {"consent_given": True, "escort_available": True, "date_of_birth": "1944-04-04"}
        a.state = b.state = "in_progress"
        db.session.commit()
        b_id = b.id
    client = staff_app.test_client()
    opened = client.get(f"/i/{token_a}", follow_redirects=True)
    assert opened.status_code == 200
    seen = ""
    for rule in staff_app.url_map.iter_rules():
        if rule.endpoint.startswith("intake.") and "GET" in rule.methods and not rule.arguments - {"section_id"}:
            if "section_id" in rule.arguments:
                for section in ("consent", "about_you", "medications"):
                    page = client.get(rule.rule.replace("<section_id>", section), follow_redirects=True)
                    seen += page.get_data(as_text=True)
            else:
                seen += client.get(rule.rule, follow_redirects=True).get_data(as_text=True)
    assert "1933-03-03" in seen  # the link's own intake is what is shown ...
    assert "1944-04-04" not in seen and "Bravo Patient" not in seen  # ... and never another's
    # A wrong token opens nothing, and a staff page addressed by B's id is not reachable either.
    assert client.get(f"/i/{token_b[:-2]}xx").status_code == 404
    assert client.get(f"/staff/invitations/{b_id}/new-link").status_code in (302, 405)


def test_staff_pages_are_not_cached_and_urls_hold_no_patient_identity(staff_app, clinician_client):
    make_submission(staff_app, case_answers("02-exclude-vascular.json"), name="Ida Identity", ref="REF-777",
                    dob=datetime.date(1970, 5, 6))
    for path in ("/staff/", "/staff/invitations", "/staff/submissions/1"):
        response = clinician_client.get(path)
        assert response.headers["Cache-Control"] == "no-store"
        html = response.get_data(as_text=True)
        assert "Ida Identity" in html
        for url in re.findall(r'(?:href|action)="([^"]+)"', html):
            assert "Ida" not in url and "REF-777" not in url and "1970" not in url, url


# -- the work list -----------------------------------------------------------------------------

def _seed_worklist(app):
    """One submission per severity (and two 'review'), at known times."""
    specs = [
        ("Info Iris", "01-suitable-candidate.json", {"lamotrigine": True}, T0 + datetime.timedelta(hours=5)),
        ("Review Old", "07-several-review-flags.json", {}, T0 + datetime.timedelta(hours=1)),
        ("Clear Clara", "01-suitable-candidate.json", {}, T0 + datetime.timedelta(hours=9)),
        ("Exclude Eve", "02-exclude-vascular.json", {}, T0 + datetime.timedelta(hours=2)),
        ("Review New", "07-several-review-flags.json", {}, T0 + datetime.timedelta(hours=8)),
        ("Urgent Uma", "05-urgent-asq-acute.json", {}, T0 + datetime.timedelta(hours=3)),
    ]
    ids = {}
    for name, case, extra, when in specs:
        answers = case_answers(case)
        if extra.get("lamotrigine"):
            answers["medications"] = ["ssri", "lamotrigine"]
        ids[name] = make_submission(app, answers, name=name, submitted_at=when)
    return ids


def test_worklist_orders_by_severity_then_newest(staff_app, clinician_client):
    _seed_worklist(staff_app)
    html = clinician_client.get("/staff/?review=all").get_data(as_text=True)
    assert names_in_order(html) == ["Exclude Eve", "Urgent Uma", "Review New", "Review Old", "Info Iris",
                                    "Clear Clara"]
    assert "PHQ-9" in html and "GAD-7" in html  # key scores
    row = html[html.index("Exclude Eve"):html.index("Urgent Uma")]
    assert "1 exclude" in row and "1 info" in row and "Not yet" in row


def test_worklist_filters(staff_app, clinician_client):
    ids = _seed_worklist(staff_app)
    html = clinician_client.get("/staff/?review=all&severity=review").get_data(as_text=True)
    assert names_in_order(html) == ["Review New", "Review Old"]
    html = clinician_client.get("/staff/?review=all&severity=none").get_data(as_text=True)
    assert names_in_order(html) == ["Clear Clara"]
    with staff_app.app_context():
        record_review(db.session.get(Submission, ids["Urgent Uma"]), db.session.scalar(select(User).limit(1)))
        db.session.commit()
    to_review = names_in_order(clinician_client.get("/staff/").get_data(as_text=True))  # default: not reviewed
    assert "Urgent Uma" not in to_review and len(to_review) == 5
    assert names_in_order(clinician_client.get("/staff/?review=reviewed").get_data(as_text=True)) == ["Urgent Uma"]
    # Nonsense filter values fall back to the defaults instead of failing.
    assert clinician_client.get("/staff/?review=zzz&severity=%3Cb%3E&after=garbage").status_code == 200


def test_keyset_pagination_walks_every_row_once_in_order(staff_app):
    import random

    rng = random.Random(5)
    with staff_app.app_context():
        intake_qs = create_invitation("seed")[0].question_set_version_id
        db.session.rollback()
        expected = []
        for n in range(23):
            intake, _ = create_invitation(f"P{n}")
            rank = rng.randrange(5)
            when = T0 + datetime.timedelta(minutes=rng.choice([0, 5, 10, 15]))  # ties on purpose
            sub = Submission(intake_id=intake.id, submitted_at=when, answers={}, result={}, severity_rank=rank)
            db.session.add(sub)
            db.session.flush()
            expected.append((rank, -when.timestamp(), -sub.id, sub.id))
        db.session.commit()
        assert intake_qs
        order = [e[3] for e in sorted(expected)]

        walked, cursor, pages = [], None, []
        while True:
            page = worklist_page("all", after=cursor, limit=4)
            pages.append(page)
            walked += [s.id for s in page.rows]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert walked == order
        assert len(pages) == 6 and pages[0].prev_cursor is None
        # And back again with the "previous" cursors.
        back, page = [], pages[-1]
        while page.prev_cursor is not None:
            page = worklist_page("all", before=page.prev_cursor, limit=4)
            back = [s.id for s in page.rows] + back
        assert back + [s.id for s in pages[-1].rows] == order
        # A severity filter is one rank only.
        assert [s.id for s in worklist_page("all", severity=2, limit=50).rows] == [
            e[3] for e in sorted(expected) if e[0] == 2]


def test_cursor_round_trip_and_rejection():
    cursor = Cursor(2, datetime.datetime(2026, 3, 1, 9, 0, 0, 123456), 42)
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ("", "x", "9~20260301T090000.000000~1", "1~notatime~1", "1~20260301T090000.000000~-3", "a" * 100):
        assert Cursor.decode(bad) is None


@pytest.mark.sqlite_only
def test_worklist_query_uses_the_index_without_sorting(staff_app):
    """Each page query is a range scan of a work-list index (the default "to review" view: of the partial
    index of unreviewed submissions): no OFFSET, no temporary sort."""
    from sqlalchemy.dialects import sqlite

    from screening.clinician.worklist import _rank_query

    with staff_app.app_context():
        cursor = Cursor(1, T0, 10)
        for state in ("all", "to_review", "reviewed"):
            for after in (None, cursor):
                for backwards in (False, True):
                    query = _rank_query(1, state, after, backwards, 51)
                    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
                    assert not re.search(r"OFFSET (?!0\b)", sql.upper())  # SQLAlchemy writes OFFSET 0
                    plan = " | ".join(row[-1] for row in db.session.execute(db.text("EXPLAIN QUERY PLAN " + sql)))
                    index = "ix_submission_to_review" if state == "to_review" else "ix_submission_worklist"
                    assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
                    assert "TEMP B-TREE" not in plan, plan


# -- invitations -------------------------------------------------------------------------------

def test_create_invitation_shows_the_link_once(staff_app, clinician_client, clinician):
    token = csrf_from(clinician_client, "/staff/invitations/new")
    empty = clinician_client.post("/staff/invitations/new", data={"csrf_token": token})
    assert empty.status_code == 400 and "name or a clinic reference" in empty.get_data(as_text=True)
    future = clinician_client.post("/staff/invitations/new", data={"csrf_token": token, "patient_name": "A",
                                                                    "patient_dob": "2999-01-01"})
    assert future.status_code == 400 and "future" in future.get_data(as_text=True)
    response = clinician_client.post("/staff/invitations/new", data={
        "csrf_token": token, "patient_name": "Nora <Newpatient>", "patient_dob": "1980-02-03", "clinic_ref": "C-55"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "Nora &lt;Newpatient&gt;" in html and "<Newpatient>" not in html
    link = re.search(r'value="(http://localhost/i/[A-Za-z0-9_-]+)"', html).group(1)
    with staff_app.app_context():
        intake = find_intake(link.rsplit("/", 1)[1])
        assert (intake.patient_name, intake.patient_dob, intake.clinic_ref, intake.created_by) == (
            "Nora <Newpatient>", datetime.date(1980, 2, 3), "C-55", clinician)
        assert link.rsplit("/", 1)[1] not in str(intake.token_hash)
    listing = clinician_client.get("/staff/invitations").get_data(as_text=True)
    assert "Nora &lt;Newpatient&gt;" in listing and "Not started" in listing
    assert link not in listing  # the link is never shown again
    assert audit_events(staff_app, "invitation.created") == [(f"user:{clinician}", f"intake:{intake.id}", {})]


def test_invitation_link_uses_the_configured_base_url(staff_app, clinician_client):
    staff_app.config["BASE_URL"] = "https://screening.example.org/"
    token = csrf_from(clinician_client, "/staff/invitations/new")
    html = clinician_client.post("/staff/invitations/new", data={"csrf_token": token, "clinic_ref": "R-1"}
                                 ).get_data(as_text=True)
    assert re.search(r'value="https://screening\.example\.org/i/[A-Za-z0-9_-]{40,}"', html)


def test_invitation_states_revoke_and_new_link(staff_app, clinician_client):
    with staff_app.app_context():
        waiting, waiting_token = create_invitation("Wait Ing", None, None)
        busy, busy_token = create_invitation("Busy Bee", None, None)
        busy.state = "in_progress"
        db.session.commit()
        waiting_id, busy_id = waiting.id, busy.id
    make_submission(staff_app, case_answers("01-suitable-candidate.json"), name="Done Dora")
    html = clinician_client.get("/staff/invitations").get_data(as_text=True)
    assert "Not started" in html and "In progress" in html and "Submitted" in html
    open_only = clinician_client.get("/staff/invitations?state=open").get_data(as_text=True)
    assert "Done Dora" not in open_only and "Busy Bee" in open_only

    token = csrf_from(clinician_client, "/staff/invitations")
    assert clinician_client.post(f"/staff/invitations/{waiting_id}/revoke").status_code == 400  # no CSRF token
    assert clinician_client.get(f"/staff/invitations/{waiting_id}/revoke").status_code == 200  # asks, changes nothing
    with staff_app.app_context():
        assert db.session.get(Intake, waiting_id).state == "not_started"
    clinician_client.post(f"/staff/invitations/{waiting_id}/revoke", data={"csrf_token": token})
    with staff_app.app_context():
        assert db.session.get(Intake, waiting_id).state == "revoked"
    assert staff_app.test_client().get(f"/i/{waiting_token}").status_code == 410

    page = clinician_client.post(f"/staff/invitations/{busy_id}/new-link", data={"csrf_token": token})
    new_token = re.search(r'/i/([A-Za-z0-9_-]+)"', page.get_data(as_text=True)).group(1)
    with staff_app.app_context():
        assert find_intake(busy_token) is None
        assert find_intake(new_token).id == busy_id
        assert db.session.get(Intake, busy_id).state == "in_progress"
    assert [e[1] for e in audit_events(staff_app, "invitation.revoked")] == [f"intake:{waiting_id}"]
    assert [e[1] for e in audit_events(staff_app, "invitation.link_replaced")] == [f"intake:{busy_id}"]


def test_an_expired_link_is_marked_and_a_new_link_opens_for_the_full_period_again(staff_app, clinician_client):
    staff_app.config["INTAKE_LINK_DAYS"] = 14
    with staff_app.app_context():
        intake, old_token = create_invitation("Late Lee", None, None)
        assert intake.link_expires_at - intake.created_at == datetime.timedelta(days=14)
        intake.state, intake.answers = "in_progress", {"consent_given": True}
        intake.link_expires_at = datetime.datetime(2026, 3, 1, 12, 0)
        db.session.commit()
        intake_id = intake.id
    html = clinician_client.get("/staff/invitations?state=open").get_data(as_text=True)
    assert "Links stop working 14 days after they are made" in html
    assert re.search(r"Link expired 2026-03-01 12:00[^<]*: make a new link", html), html
    assert staff_app.test_client().get(f"/i/{old_token}").status_code == 410
    asked = clinician_client.get(f"/staff/invitations/{intake_id}/new-link").get_data(as_text=True)
    assert "you get a new one to send, which works for 14 days. The answers saved so far are kept." in asked

    page = clinician_client.post(f"/staff/invitations/{intake_id}/new-link",
                                 data={"csrf_token": csrf_from(clinician_client, "/staff/invitations")})
    new_token = re.search(r'/i/([A-Za-z0-9_-]+)"', page.get_data(as_text=True)).group(1)
    with staff_app.app_context():
        renewed = db.session.get(Intake, intake_id)
        left = renewed.link_expires_at - datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        assert datetime.timedelta(days=13, hours=23) < left <= datetime.timedelta(days=14)
        assert renewed.answers == {"consent_given": True}
    assert "opens the questionnaire until" in page.get_data(as_text=True)
    assert "Link expired" not in clinician_client.get("/staff/invitations").get_data(as_text=True)
    assert staff_app.test_client().get(f"/i/{new_token}").status_code == 303


def test_links_need_not_expire(staff_app):
    staff_app.config["INTAKE_LINK_DAYS"] = None
    with staff_app.app_context():
        intake, _token = create_invitation("Open Ended", None, None)
        assert intake.link_expires_at is None


# -- summary and review ------------------------------------------------------------------------

def test_summary_page_shows_flags_because_scores_and_is_audited(staff_app, clinician_client, clinician):
    answers = case_answers("07-several-review-flags.json")
    answers["medications_other"] = "<script>alert('x')</script> & more"
    sid = make_submission(staff_app, answers, name="Sue <i>Summary</i>", ref="S-1")
    response = clinician_client.get(f"/staff/submissions/{sid}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Sue &lt;i&gt;Summary&lt;/i&gt;" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in html
    assert "REVIEW" in html and "bp-uncontrolled" in html
    # "because" names the question and the answer, not only ids.
    assert "What was the top number of your last blood pressure reading?" in html and "162 mmHg" in html
    assert "Interstitial cystitis" in html  # the multi-choice answer that fired "bladder", by its label
    assert "PHQ-9" in html and "moderately severe" in html
    assert "decision support" in html
    assert "report-assets/report.css" in html
    assert audit_events(staff_app, "submission.summary_viewed") == [(f"user:{clinician}", f"submission:{sid}", {})]


def test_unknown_submission_is_404(clinician_client):
    assert clinician_client.get("/staff/submissions/999").status_code == 404
    assert clinician_client.get("/staff/submissions/999/summary.pdf").status_code == 404


def test_review_records_who_and_when_and_leaves_the_worklist(staff_app, clinician_client, clinician):
    sid = make_submission(staff_app, case_answers("05-urgent-asq-acute.json"), name="Rev Iewed")
    assert "Rev Iewed" in clinician_client.get("/staff/").get_data(as_text=True)
    token = csrf_from(clinician_client, f"/staff/submissions/{sid}")
    response = clinician_client.post(f"/staff/submissions/{sid}/review",
                                     data={"csrf_token": token, "note": "Called the patient; safety plan made."})
    assert response.status_code == 302
    with staff_app.app_context():
        review = db.session.get(SubmissionReview, sid)
        assert review.reviewed_by == clinician and review.note == "Called the patient; safety plan made."
        assert (datetime.datetime.utcnow() - review.reviewed_at).total_seconds() < 60
    assert "Rev Iewed" not in clinician_client.get("/staff/").get_data(as_text=True)
    assert "Rev Iewed" in clinician_client.get("/staff/?review=reviewed").get_data(as_text=True)
    page = clinician_client.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    assert "Reviewed</strong> by clin@example.org" in page and "safety plan made" in page
    again = clinician_client.post(f"/staff/submissions/{sid}/review", data={"csrf_token": token, "note": "x"},
                                  follow_redirects=True)
    assert "already reviewed" in again.get_data(as_text=True)
    events = audit_events(staff_app, "submission.reviewed")
    assert events == [(f"user:{clinician}", f"submission:{sid}", {"with_note": True})]


def test_review_needs_csrf_and_post(staff_app, clinician_client):
    sid = make_submission(staff_app, case_answers("01-suitable-candidate.json"))
    assert clinician_client.get(f"/staff/submissions/{sid}/review").status_code == 405
    clinician_client.post(f"/staff/submissions/{sid}/review", data={"note": "no token"})
    with staff_app.app_context():
        assert db.session.get(SubmissionReview, sid) is None


def test_no_answers_or_names_in_audit_events_or_logs(staff_app, clinician_client, caplog):
    caplog.set_level(logging.DEBUG)
    answers = case_answers("07-several-review-flags.json")
    answers["medications_other"] = "UNIQUE-ANSWER-TEXT"
    sid = make_submission(staff_app, answers, name="Lou Logless", ref="LOGREF-1", dob=datetime.date(1961, 1, 2))
    token = csrf_from(clinician_client, f"/staff/submissions/{sid}")
    clinician_client.post(f"/staff/submissions/{sid}/review", data={"csrf_token": token, "note": "NOTE-TEXT"})
    with staff_app.app_context():
        dump = " ".join(f"{e.actor} {e.action} {e.target} {e.detail}" for e in db.session.scalars(select(AuditEvent)))
    logs = " ".join(r.getMessage() for r in caplog.records)
    for secret in ("UNIQUE-ANSWER-TEXT", "Lou Logless", "LOGREF-1", "1961-01-02", "NOTE-TEXT", "Sertraline"):
        assert secret not in dump and secret not in logs


# -- demo data ---------------------------------------------------------------------------------

def test_seed_demo_covers_every_severity(staff_app):
    runner = staff_app.test_cli_runner()
    result = runner.invoke(args=["seed-demo", "--password", "demo-password-123"])
    assert result.exit_code == 0, result.output
    assert "demo.clinician@example.org" in result.output
    with staff_app.app_context():
        subs = db.session.scalars(select(Submission)).all()
        assert {s.severity_rank for s in subs} == {0, 1, 2, 3, 4}
        intakes = db.session.scalars(select(Intake)).all()
        assert all(i.patient_name.startswith("DEMO ") and i.clinic_ref.startswith("DEMO-") for i in intakes)
        assert {i.state for i in intakes} == {"submitted", "not_started", "in_progress", "revoked"}
        assert all(not s.result["rejected"] for s in subs)
        assert any(not s.result["scores"]["phq9"]["complete"] for s in subs)
    client = staff_app.test_client()
    sign_in(client, email="demo.clinician@example.org", password="demo-password-123")
    html = client.get("/staff/?review=all").get_data(as_text=True)
    assert len(names_in_order(html)) == len(subs)
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 1 and "fresh install" in again.output
