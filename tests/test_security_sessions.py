"""Measured property 7 (issue 7): a staff session cookie replayed after the session ended is refused, and a
patient whose session ends in the middle of a page loses nothing that was typed.

Staff: a copy of the cookie is taken while signed in, the session is ended one of five ways (sign-out, idle
limit, absolute limit, account disabled, signing in again in the same browser), and the copy is replayed
from another browser against every staff and admin page (GET) and every staff POST with the CSRF token of
that session. Every replay must end on the sign-in page or be refused, and nothing may change.

Patients: on every page of the intake the patient fills everything in, then the session ends before Next is
pressed: either it idled out (the clock moves past INTAKE_IDLE_MINUTES) or the browser lost its cookies. The
page that comes back must hold every typed value; after opening the link again, pressing Next on *that*
page (as a browser submits it) must store every value.
"""

from __future__ import annotations

import datetime
import re
import time

import pytest
from sqlalchemy import select

from intake_helpers import GOOD_ANSWERS, GOOD_PAGES, form_controls, invite, load_intake, location, open_link, page
from screening.accounts.models import StaffSession
from screening.db import db
from screening.models import Intake, Submission, User
from security_helpers import browser_form, form_values, record_measure
from test_clinician_support import csrf_from, make_submission, make_user, sign_in, sign_out

ENDINGS = ["signed_out", "idle", "absolute_limit", "disabled", "signed_in_again"]


def staff_paths(app, submission_id: int, intake_id: int) -> tuple[list[str], list[tuple[str, dict]]]:
    """Every GET page under /staff and /admin with real ids, and every staff POST with a harmless body."""
    values = {"submission_id": submission_id, "intake_id": intake_id, "slug": "question-sets",
              "set_id": "ketamine-intake", "section_id": "consent", "item_id": "consent_given",
              "rule_id": "x", "version": 1}
    gets, posts = [], []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/staff", "/admin")):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(r"<(?:[^:>]+:)?%s>" % re.escape(name), str(values.get(name, "x")), path)
        if "GET" in rule.methods:
            gets.append(path)
        if "POST" in rule.methods and rule.rule.startswith("/staff"):
            posts.append((path, {"patient_name": "Replayed Invitation", "note": "replayed"}))
    return sorted(gets), sorted(posts)


def refused(response) -> bool:
    location = response.headers.get("Location", "")
    return response.status_code >= 400 or (response.status_code in (301, 302, 303) and "/sign-in" in location)


def state(app) -> tuple:
    with app.app_context():
        intakes = [(i.id, i.state, i.token_hash, i.patient_name) for i in db.session.scalars(select(Intake))]
        reviews = db.session.execute(select(Submission.id)).all()
        from screening.clinician.models import SubmissionReview
        notes = [(r.submission_id, r.note) for r in db.session.scalars(select(SubmissionReview))]
    return intakes, reviews, notes


def test_a_staff_cookie_replayed_after_its_session_ended_is_refused(app, request, monkeypatch):
    app.config.update(PASSWORD_HASH_METHOD="scrypt:1024:8:1", REPORT_RENDER_ON_SUBMIT=False)
    submission_id = make_submission(app, GOOD_ANSWERS, name="Replay Target")
    intake_id, _ = invite(app, patient_name="Open Invitation")
    gets, posts = staff_paths(app, submission_id, intake_id)
    replays = accepted = 0
    problems = []
    for n, ending in enumerate(ENDINGS):
        email = f"admin{n}@example.org"  # an admin: every /staff and /admin page is in scope
        user_id = make_user(app, email, "admin")
        browser = app.test_client()
        assert sign_in(browser, email).status_code == 302
        token = csrf_from(browser, "/staff/")
        copied = browser.get_cookie("session").value
        assert browser.get("/staff/").status_code == 200
        if ending == "signed_out":
            assert sign_out(browser).status_code == 302
        elif ending == "idle":
            later = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(
                minutes=float(app.config["SESSION_IDLE_MINUTES"]) + 1)
            monkeypatch.setattr("screening.accounts.auth.utcnow", lambda: later)
        elif ending == "absolute_limit":  # in use all along, but signed in longer ago than SESSION_MAX_HOURS
            with app.app_context():
                row = db.session.scalar(select(StaffSession).where(StaffSession.user_id == user_id))
                row.created_at -= datetime.timedelta(hours=float(app.config["SESSION_MAX_HOURS"]) + 1)
                db.session.commit()
        elif ending == "disabled":
            with app.app_context():
                db.session.get(User, user_id).active = False
                db.session.commit()
        elif ending == "signed_in_again":
            assert sign_in(browser, email).status_code == 302
            assert browser.get_cookie("session").value != copied
        before = state(app)
        thief = app.test_client()
        thief.set_cookie("session", copied)
        for path in gets:
            response = thief.get(path)
            replays += 1
            if not refused(response):
                accepted += 1
                problems.append(f"{ending}: GET {path} -> {response.status_code}")
        for path, data in posts:
            response = thief.post(path, data={"csrf_token": token, **data})
            replays += 1
            if not refused(response):
                accepted += 1
                problems.append(f"{ending}: POST {path} -> {response.status_code}")
        if state(app) != before:
            problems.append(f"{ending}: a replayed request changed data")
        monkeypatch.undo()
        with app.app_context():  # the server knows why the session ended
            row = db.session.scalar(select(StaffSession).where(StaffSession.user_id == user_id)
                                    .order_by(StaffSession.id))
            assert row.ended_at is not None, ending
    record_measure(request, "sessions.staff_cookie_replay", endings=len(ENDINGS), replays=replays,
                   accepted=accepted)
    assert accepted == 0 and not problems, "\n".join(problems)


def typed_pages() -> list[tuple[str, dict]]:
    """The intake's pages as a patient types them, with every follow-up question answered too."""
    return [(section, dict(answers)) for section, answers in GOOD_PAGES]


def expected(answers: dict) -> dict:
    return {item: GOOD_ANSWERS[item] for item in answers}


def as_lists(answers: dict) -> dict:
    return {item: value if isinstance(value, list) else [value] for item, value in answers.items()}


@pytest.mark.parametrize("how", ["idle", "cookies_lost"])
def test_a_session_ending_mid_page_loses_nothing_typed(app, request, how):
    app.config["REPORT_RENDER_ON_SUBMIT"] = False
    intake_id, token = invite(app)
    browser = app.test_client()
    open_link(browser, token)
    expiries = typed = kept_on_screen = stored = 0
    presses = []
    problems = []
    for section, answers in typed_pages():
        text = page(browser.get(f"/intake/section/{section}"))
        controls = form_controls(text)
        # The page's script reports the follow-up questions that appeared while typing as shown.
        shown = " ".join(dict.fromkeys(controls["_shown"].split() + list(answers)))
        data = {**controls, **answers, "_shown": shown, "_action": "next"}
        if how == "idle":  # the patient's last activity was longer ago than INTAKE_IDLE_MINUTES
            with browser.session_transaction() as session:
                session["intake_seen"] = int(time.time() - float(app.config["INTAKE_IDLE_MINUTES"]) * 60 - 60)
            response = browser.post(f"/intake/section/{section}", data=data)
        else:
            browser = app.test_client()  # the same page, in a browser that has lost every cookie
            response = browser.post(f"/intake/section/{section}", data=data)
        expiries += 1
        assert response.status_code == 200 and "not saved yet" in page(response), (section, response.status_code)
        # Everything typed is still on the page...
        on_screen = form_values(browser_form(page(response), f"/intake/section/{section}"))
        for item, value in as_lists(answers).items():
            typed += len(value)
            if on_screen.get(item) == value:
                kept_on_screen += len(value)
            else:
                problems.append(f"{how} {section}: {item} typed {value}, page shows {on_screen.get(item)}")
        # ...and after opening the link again, Next on that very page saves it.
        open_link(browser, token)
        fields = browser_form(page(response), f"/intake/section/{section}") + [("_action", "next")]
        response = browser.post(f"/intake/section/{section}", data=_multi(fields))
        count = 1
        while response.status_code == 200 and count < 3:  # e.g. the form's token was from the lost session
            fields = browser_form(page(response), f"/intake/section/{section}") + [("_action", "next")]
            response = browser.post(f"/intake/section/{section}", data=_multi(fields))
            count += 1
        presses.append(count)
        assert response.status_code == 303, (section, location(response), page(response)[:300])
        saved = load_intake(app, intake_id).answers
        for item, value in expected(answers).items():
            if saved.get(item) == value:
                stored += len(value) if isinstance(value, list) else 1
            else:
                problems.append(f"{how} {section}: {item} stored {saved.get(item)!r}, typed {value!r}")
    lost = typed - stored
    record_measure(request, f"sessions.patient_expiry_{how}", pages=expiries, typed_values=typed,
                   shown_back=kept_on_screen, lost=lost, max_presses_to_save=max(presses))
    assert lost == 0 and kept_on_screen == typed and not problems, "\n".join(problems)
    assert load_intake(app, intake_id).answers == GOOD_ANSWERS


def _multi(fields: list[tuple[str, str]]):
    from werkzeug.datastructures import MultiDict

    return MultiDict(fields)
