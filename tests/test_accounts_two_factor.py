"""Two-factor sign-in: enrolment with a real TOTP computed here (pyotp, on a fixed clock), sign-in with a
code, no replay (also across two app processes on one database), recovery codes once each, the limit on
wrong codes, the clinic-wide requirement, and one's own password change ending the other sessions."""

from __future__ import annotations

import datetime

from sqlalchemy import select

from accounts_helpers import (SECRET_RE, audit_events, code_at, enrol, enter_code, fixed_clock, page_text,
                              sign_in_with_code, start_enrolment)
from screening import create_app
from screening.accounts.models import RecoveryCode, StaffSession, TwoFactor
from screening.db import db
from screening.models import Intake
from test_clinician_support import (PASSWORD, clinician, clinician_client, csrf_from, make_user,  # noqa: F401
                                    sign_in, sign_out, staff_app)

EMAIL = "clin@example.org"


def test_enrolment_then_sign_in_with_a_code_from_the_app(staff_app, clinician_client, clinician, monkeypatch):
    clock = fixed_clock(monkeypatch)
    first = page_text(clinician_client.get("/staff/account/two-factor"))
    assert "Show the QR code" in first and "Scan this QR code" not in first
    with staff_app.app_context():
        assert db.session.scalar(select(TwoFactor.id)) is None  # looking at the page stores no key
    text = page_text(start_enrolment(clinician_client))
    assert "Scan this QR code" in text and 'src="data:image/svg+xml' in text
    again = page_text(clinician_client.get("/staff/account/two-factor"))
    assert SECRET_RE.search(again).group(1) == SECRET_RE.search(text).group(1)  # a reload keeps the key
    token = csrf_from(clinician_client, "/staff/account/two-factor")
    wrong = clinician_client.post("/staff/account/two-factor", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 400 and "not correct" in page_text(wrong)
    with staff_app.app_context():
        assert db.session.scalar(select(TwoFactor.confirmed_at)) is None  # a wrong code enrols nothing
    secret, codes = enrol(clinician_client, clock)
    with staff_app.app_context():
        stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not {c.replace("-", "") for c in codes} & set(stored)  # only hashes are stored
    assert "Two-factor sign-in" in page_text(clinician_client.get("/staff/account/"))
    sign_out(clinician_client)

    clock.now += 90  # a later step: a new code
    browser = staff_app.test_client()
    first = sign_in(browser)
    assert first.status_code == 302 and first.headers["Location"] == "/sign-in/code"
    assert browser.get("/staff/").status_code == 302  # the password alone opens nothing
    with staff_app.app_context():
        assert db.session.scalars(select(StaffSession).where(StaffSession.ended_at.is_(None))).all() == []
    done = enter_code(browser, code_at(secret, clock.now))
    assert done.status_code == 302 and done.headers["Location"] == "/staff/"
    assert browser.get("/staff/").status_code == 200
    assert audit_events(staff_app, "account.two_factor_enrolled") == [
        (f"user:{clinician}", "account.two_factor_enrolled", f"user:{clinician}", {})]
    assert audit_events(staff_app, "account.sign_in")[-1][3] == {"second_factor": "authenticator"}
    assert [e[3] for e in audit_events(staff_app, "account.two_factor_enrolment_failed")] == [{}]


def test_the_next_page_after_sign_in_survives_the_second_factor(staff_app, clinician_client, monkeypatch):
    clock = fixed_clock(monkeypatch)
    secret, _ = enrol(clinician_client, clock)
    sign_out(clinician_client)
    clock.now += 30
    browser = staff_app.test_client()
    assert sign_in(browser, next_path="/staff/invitations").headers["Location"] == "/sign-in/code"
    assert enter_code(browser, code_at(secret, clock.now)).headers["Location"] == "/staff/invitations"


def test_a_used_code_is_refused_within_its_window(staff_app, clinician_client, clinician, monkeypatch):
    clock = fixed_clock(monkeypatch)
    secret, _ = enrol(clinician_client, clock)  # the enrolment itself used the code of this step
    laptop, tablet = staff_app.test_client(), staff_app.test_client()
    replay = sign_in_with_code(laptop, EMAIL, code_at(secret, clock.now))
    assert replay.status_code == 400 and "was used already" in page_text(replay)
    clock.now += 30
    code = code_at(secret, clock.now)
    assert sign_in_with_code(laptop, EMAIL, code).status_code == 302
    assert sign_in_with_code(tablet, EMAIL, code).status_code == 400  # same code, another browser
    clock.now += 20  # still within the drift window of that code: refused all the same
    assert enter_code(tablet, code).status_code == 400
    assert enter_code(tablet, code_at(secret, clock.now - 60)).status_code == 400  # older than the last one used
    assert enter_code(tablet, code_at(secret, clock.now + 90)).status_code == 400  # too far ahead
    assert enter_code(tablet, code_at(secret, clock.now + 30)).status_code == 302  # the phone is a step ahead
    failed = audit_events(staff_app, "account.second_factor_failed")
    assert [e[:3] for e in failed] == [("anonymous", "account.second_factor_failed", f"user:{clinician}")] * 5
    assert failed[0][3] == {"method": "authenticator", "locked": False}


def test_a_code_accepted_by_one_app_process_is_refused_by_another(staff_app, clinician_client, monkeypatch, tmp_path):
    """Two apps on one database, as two gunicorn workers: the accepted step is in the database."""
    clock = fixed_clock(monkeypatch)
    secret, _ = enrol(clinician_client, clock)
    other = create_app({"TESTING": True, "INSTANCE_PATH": staff_app.instance_path, "SECRET_KEY": "test-secret",
                        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
                        "SQLALCHEMY_DATABASE_URI": staff_app.config["SQLALCHEMY_DATABASE_URI"]})
    try:
        clock.now += 30
        code = code_at(secret, clock.now)
        assert sign_in_with_code(staff_app.test_client(), EMAIL, code).status_code == 302
        assert sign_in_with_code(other.test_client(), EMAIL, code).status_code == 400
    finally:
        with other.app_context():
            db.engine.dispose()


def test_recovery_codes_work_once_each(staff_app, clinician_client, clinician, monkeypatch):
    clock = fixed_clock(monkeypatch)
    _, codes = enrol(clinician_client, clock)
    sign_out(clinician_client)
    browser = staff_app.test_client()
    done = sign_in_with_code(browser, EMAIL, codes[3].upper().replace("-", " "), recovery=True)  # as typed
    assert done.status_code == 302 and done.headers["Location"] == "/staff/"
    assert "9 recovery codes left" in page_text(browser.get("/staff/"))
    sign_out(browser)
    again = sign_in_with_code(browser, EMAIL, codes[3], recovery=True)
    assert again.status_code == 400 and "used before" in page_text(again)
    assert browser.get("/staff/").status_code == 302
    assert enter_code(browser, codes[4], recovery=True).status_code == 302
    assert audit_events(staff_app, "account.sign_in")[-1][3] == {"second_factor": "recovery_code"}
    # A TOTP-shaped guess on the recovery form, or a recovery code on the app form, is just wrong.
    sign_out(browser)
    assert sign_in_with_code(browser, EMAIL, codes[5]).status_code == 400
    with staff_app.app_context():
        assert len(db.session.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).all()) == 2


def test_new_recovery_codes_replace_the_old_and_need_the_password(staff_app, clinician_client, monkeypatch):
    clock = fixed_clock(monkeypatch)
    _, old_codes = enrol(clinician_client, clock)
    token = csrf_from(clinician_client, "/staff/account/")
    refused = clinician_client.post("/staff/account/recovery-codes",
                                    data={"csrf_token": token, "password": "wrong one"})
    assert refused.status_code == 400
    made = clinician_client.post("/staff/account/recovery-codes", data={"csrf_token": token, "password": PASSWORD})
    assert made.status_code == 200 and "The old codes no longer work" in page_text(made)
    sign_out(clinician_client)
    assert sign_in_with_code(staff_app.test_client(), EMAIL, old_codes[0], recovery=True).status_code == 400
    assert len(audit_events(staff_app, "account.recovery_codes_renewed")) == 1


def test_wrong_codes_lock_the_account_for_a_while(staff_app, clinician_client, clinician, monkeypatch):
    staff_app.config.update(TWO_FACTOR_MAX_FAILURES=3, TWO_FACTOR_LOCK_MINUTES=15)
    clock = fixed_clock(monkeypatch)
    secret, _ = enrol(clinician_client, clock)
    clock.now += 30
    attacker = staff_app.test_client()
    assert sign_in_with_code(attacker, EMAIL, "123456").status_code == 400
    assert enter_code(attacker, "654321").status_code == 400
    locked = enter_code(attacker, "111111")
    assert locked.status_code == 429 and "Too many wrong codes" in page_text(locked)
    # Locked: the right code, from a new sign-in with the right password, is refused too (nothing is checked).
    owner = staff_app.test_client()
    assert sign_in_with_code(owner, EMAIL, code_at(secret, clock.now)).status_code == 429
    assert owner.get("/staff/").status_code == 302
    failures = audit_events(staff_app, "account.second_factor_failed")
    assert [e[3]["locked"] for e in failures] == [False, False, True, True]
    with staff_app.app_context():  # the window passes
        row = db.session.scalar(select(TwoFactor))
        row.failures_since -= datetime.timedelta(minutes=16)
        db.session.commit()
    assert sign_in_with_code(owner, EMAIL, code_at(secret, clock.now)).status_code == 302
    with staff_app.app_context():
        assert db.session.scalar(select(TwoFactor.failures)) == 0


def test_an_unfinished_sign_in_expires(staff_app, clinician_client, monkeypatch):
    clock = fixed_clock(monkeypatch)
    secret, _ = enrol(clinician_client, clock)
    sign_out(clinician_client)
    clock.now += 30
    browser = staff_app.test_client()
    sign_in(browser)
    token = csrf_from(browser, "/sign-in/code")
    with browser.session_transaction() as session:
        session["pending_sign_in"]["at"] -= 11 * 60
        session.modified = True
    late = browser.post("/sign-in/code", data={"csrf_token": token, "code": code_at(secret, clock.now)})
    assert late.status_code == 302 and late.headers["Location"] == "/sign-in"
    assert "not finished in time" in page_text(browser.get("/sign-in"))
    assert browser.get("/staff/").status_code == 302


def test_the_clinic_can_require_two_factor_for_everyone(staff_app, clinician, monkeypatch):
    staff_app.config["REQUIRE_TWO_FACTOR"] = True
    clock = fixed_clock(monkeypatch)
    browser = staff_app.test_client()
    first = sign_in(browser)
    assert first.status_code == 302 and first.headers["Location"] == "/staff/account/two-factor"
    page = page_text(browser.get("/staff/account/two-factor"))
    assert "Your clinic requires two-factor sign-in" in page
    for path in ("/staff/", "/staff/invitations", "/staff/account/", "/admin/"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["Location"] == "/staff/account/two-factor", path
    token = csrf_from(browser, "/staff/account/two-factor")
    blocked = browser.post("/staff/invitations/new", data={"csrf_token": token, "patient_name": "Not Made"})
    assert blocked.status_code == 303
    with staff_app.app_context():
        assert db.session.scalar(select(Intake).where(Intake.patient_name == "Not Made")) is None
    secret, _ = enrol(browser, clock)
    assert browser.get("/staff/").status_code == 200
    token = csrf_from(browser, "/staff/account/")
    off = browser.post("/staff/account/two-factor/off", data={"csrf_token": token, "password": PASSWORD})
    assert off.status_code == 400 and "requires two-factor" in page_text(off)
    # A session that began before the clinic turned the requirement on is held at enrolment as well.
    staff_app.config["REQUIRE_TWO_FACTOR"] = False
    colleague = make_user(staff_app, "colleague@example.org")
    early = staff_app.test_client()
    assert sign_in(early, "colleague@example.org").headers["Location"] == "/staff/"
    staff_app.config["REQUIRE_TWO_FACTOR"] = True
    assert early.get("/staff/").headers["Location"] == "/staff/account/two-factor"
    token = csrf_from(early, "/staff/account/two-factor")
    assert early.post("/sign-out", data={"csrf_token": token}).headers["Location"].endswith("/sign-in")
    with staff_app.app_context():
        assert db.session.scalars(select(StaffSession).where(StaffSession.user_id == colleague,
                                                             StaffSession.ended_at.is_(None))).all() == []


def test_turning_two_factor_off_needs_the_password(staff_app, clinician_client, monkeypatch):
    clock = fixed_clock(monkeypatch)
    enrol(clinician_client, clock)
    token = csrf_from(clinician_client, "/staff/account/")
    assert clinician_client.post("/staff/account/two-factor/off",
                                 data={"csrf_token": token, "password": "not it"}).status_code == 400
    off = clinician_client.post("/staff/account/two-factor/off", data={"csrf_token": token, "password": PASSWORD})
    assert off.status_code == 303
    sign_out(clinician_client)
    assert sign_in(staff_app.test_client()).headers["Location"] == "/staff/"  # the password is enough again
    with staff_app.app_context():
        assert db.session.scalars(select(RecoveryCode)).all() == []


def test_changing_the_password_ends_the_other_sessions(staff_app, clinician, clinician_client):
    tablet = staff_app.test_client()
    sign_in(tablet)
    token = csrf_from(clinician_client, "/staff/account/")
    new = "a brand new long password"
    wrong = clinician_client.post("/staff/account/password", data={"csrf_token": token, "current": "nope",
                                                                   "password": new, "confirm": new})
    assert wrong.status_code == 400 and "current password is not correct" in page_text(wrong)
    short = clinician_client.post("/staff/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                                   "password": "short", "confirm": "short"})
    assert short.status_code == 400 and "at least 12" in page_text(short)
    done = clinician_client.post("/staff/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                                  "password": new, "confirm": new})
    assert done.status_code == 303
    assert "1 other session of your account was signed out" in page_text(clinician_client.get("/staff/account/"))
    assert tablet.get("/staff/").status_code == 302  # the other browser is signed out
    assert clinician_client.get("/staff/").status_code == 200  # this one is not
    assert sign_in(staff_app.test_client()).status_code == 400  # the old password no longer works
    assert sign_in(staff_app.test_client(), password=new).status_code == 302
    assert audit_events(staff_app, "account.password_changed")[0][3] == {"other_sessions_ended": 1}
    assert len(audit_events(staff_app, "account.password_change_failed")) == 1


def test_wrong_codes_are_also_limited_per_address(staff_app, clinician_client, monkeypatch):
    staff_app.config.update(SECOND_FACTOR_LIMIT_PER_ADDRESS="2 per 15 minutes", TWO_FACTOR_MAX_FAILURES=100)
    clock = fixed_clock(monkeypatch)
    enrol(clinician_client, clock)
    browser = staff_app.test_client()
    assert sign_in_with_code(browser, EMAIL, "123456").status_code == 400
    assert enter_code(browser, "234567").status_code == 400
    refused = enter_code(browser, "345678")
    assert refused.status_code == 429 and "Too many attempts" in page_text(refused)


def test_an_account_disabled_between_password_and_code_gets_no_session(staff_app, clinician_client, clinician,
                                                                       monkeypatch):
    from screening.models import User

    clock = fixed_clock(monkeypatch)
    secret, _ = enrol(clinician_client, clock)
    clock.now += 30
    browser = staff_app.test_client()
    sign_in(browser)
    token = csrf_from(browser, "/sign-in/code")
    with staff_app.app_context():
        db.session.get(User, clinician).active = False
        db.session.commit()
    late = browser.post("/sign-in/code", data={"csrf_token": token, "code": code_at(secret, clock.now)})
    assert late.status_code == 302 and late.headers["Location"] == "/sign-in"
    assert browser.get("/staff/").status_code == 302
