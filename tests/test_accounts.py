"""Staff accounts: passwords, sign-in and sign-out, server-side sessions, idle time-out, roles, first admin."""

from __future__ import annotations

import datetime
import logging
import re

import pytest
from sqlalchemy import select

from screening import create_app
from screening.accounts import auth
from screening.accounts.models import StaffSession
from screening.db import db
from screening.models import AuditEvent, User
from test_clinician_support import (PASSWORD, clinician, clinician_client, csrf_from, make_user,  # noqa: F401
                                    sign_in, sign_out, staff_app)


def events(app, action=None):
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return [(e.actor, e.action, e.target, e.detail) for e in db.session.scalars(query)]


def open_sessions(app):
    with app.app_context():
        return db.session.scalars(select(StaffSession).where(StaffSession.ended_at.is_(None))).all()


# -- passwords and accounts --------------------------------------------------------------------

def test_password_rules(staff_app):
    with staff_app.app_context():
        with pytest.raises(auth.AccountError, match="at least 12"):
            auth.create_user("a@example.org", "short-pass1", "clinician")
        with pytest.raises(auth.AccountError, match="email"):
            auth.create_user("not-an-email", PASSWORD, "clinician")
        with pytest.raises(auth.AccountError, match="role"):
            auth.create_user("a@example.org", PASSWORD, "superuser")
        with pytest.raises(auth.AccountError, match="cannot be the email"):
            auth.create_user("someone.long@example.org", "Someone.Long@example.org", "clinician")
        auth.create_user("A@Example.org ", PASSWORD, "clinician")
        with pytest.raises(auth.AccountError, match="already exists"):
            auth.create_user("a@example.org", PASSWORD, "admin")


def test_default_password_hash_is_scrypt_with_a_real_cost(app):
    with app.app_context():
        user = auth.create_user("k@example.org", PASSWORD, "clinician")
        assert app.config["PASSWORD_HASH_METHOD"] == "scrypt"
        assert user.password_hash.startswith("scrypt:32768:8:1$")
        assert PASSWORD not in user.password_hash


def test_create_user_command(staff_app):
    runner = staff_app.test_cli_runner()
    result = runner.invoke(args=["create-user", "boss@example.org", "--role", "admin", "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Created admin account boss@example.org" in result.output
    short = runner.invoke(args=["create-user", "x@example.org", "--password-stdin"], input="tooshort\n")
    assert short.exit_code == 1 and "at least 12" in short.output
    with staff_app.app_context():
        user = db.session.scalar(select(User).where(User.email == "boss@example.org"))
        assert user.role == "admin"
        assert db.session.scalar(select(User).where(User.email == "x@example.org")) is None
    assert events(staff_app, "account.created") == [("cli", "account.created", f"user:{user.id}", {"role": "admin"})]


# -- sign-in -----------------------------------------------------------------------------------

def test_sign_in_errors_are_generic_and_audited(staff_app, clinician):
    client = staff_app.test_client()
    wrong_password = sign_in(client, password="not the password at all")
    unknown_email = sign_in(client, email="nobody@example.org")
    assert wrong_password.status_code == unknown_email.status_code == 400
    text_a, text_b = wrong_password.get_data(as_text=True), unknown_email.get_data(as_text=True)
    assert "The email or password is not correct." in text_a
    assert "The email or password is not correct." in text_b
    assert "not the password at all" not in text_a  # the password is never echoed
    failed = events(staff_app, "account.sign_in_failed")
    assert failed == [("anonymous", "account.sign_in_failed", f"user:{clinician}", {}),
                      ("anonymous", "account.sign_in_failed", None, {})]
    assert client.get("/staff/").status_code == 302


def test_disabled_account_cannot_sign_in(staff_app):
    make_user(staff_app, "gone@example.org", active=False)
    client = staff_app.test_client()
    response = sign_in(client, email="gone@example.org")
    assert response.status_code == 400
    assert "The email or password is not correct." in response.get_data(as_text=True)


def test_sign_in_requires_csrf_token(staff_app, clinician):
    client = staff_app.test_client()
    response = client.post("/sign-in", data={"email": "clin@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302
    assert open_sessions(staff_app) == []


def test_sign_in_renews_the_session_and_records_it(staff_app, clinician):
    client = staff_app.test_client()
    response = sign_in(client, next_path="/staff/invitations")
    assert response.status_code == 302 and response.headers["Location"] == "/staff/invitations"
    first = client.get_cookie("session").value
    assert client.get("/staff/").status_code == 200
    # Signing in again (same browser) replaces the server session: the old cookie stops working.
    sign_in(client)
    second = client.get_cookie("session").value
    assert first != second
    thief = staff_app.test_client()
    thief.set_cookie("session", first)
    assert thief.get("/staff/").status_code == 302
    assert len(open_sessions(staff_app)) == 1
    assert [e[:3] for e in events(staff_app, "account.sign_in")] == [
        (f"user:{clinician}", "account.sign_in", f"user:{clinician}")] * 2


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"])
def test_sign_in_never_redirects_off_site(staff_app, clinician, target):
    client = staff_app.test_client()
    response = sign_in(client, next_path=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"


def test_the_session_cookie_holds_no_user_id_only_a_random_token(staff_app, clinician):
    client = staff_app.test_client()
    sign_in(client)
    with client.session_transaction() as session:
        token = session["_user_id"]
    assert len(token) >= 40 and token != str(clinician)
    with staff_app.app_context():
        row = db.session.scalar(select(StaffSession))
        assert row.token_hash != token and len(row.token_hash) == 64  # stored hashed


# -- sign-out and time-outs --------------------------------------------------------------------

def test_sign_out_ends_the_session_on_the_server(staff_app, clinician):
    client = staff_app.test_client()
    sign_in(client)
    cookie = client.get_cookie("session").value
    response = sign_out(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/sign-in")
    assert client.get("/staff/").status_code == 302
    # Replaying the cookie from before sign-out does not bring the session back.
    replay = staff_app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/staff/").status_code == 302
    with staff_app.app_context():
        row = db.session.scalar(select(StaffSession))
        assert row.ended_at is not None and row.end_reason == "signed_out"
    assert events(staff_app, "account.sign_out")[0][:3] == (f"user:{clinician}", "account.sign_out",
                                                           f"user:{clinician}")


def test_sign_out_is_a_post_with_csrf(staff_app, clinician):
    client = staff_app.test_client()
    sign_in(client)
    assert client.get("/sign-out").status_code == 405
    assert client.post("/sign-out").status_code == 400
    assert client.get("/staff/").status_code == 200


def _age_session(app, **delta):
    with app.app_context():
        row = db.session.scalar(select(StaffSession).where(StaffSession.ended_at.is_(None)))
        row.last_seen_at -= datetime.timedelta(**delta)
        row.created_at -= datetime.timedelta(**delta)
        db.session.commit()


def test_idle_session_ends_after_the_configured_time(staff_app, clinician):
    staff_app.config["SESSION_IDLE_MINUTES"] = 15
    client = staff_app.test_client()
    sign_in(client)
    _age_session(staff_app, minutes=14)
    assert client.get("/staff/").status_code == 200  # 14 minutes idle: still signed in (and activity recorded)
    _age_session(staff_app, minutes=16)
    response = client.get("/staff/invitations")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"] and "next=/staff/invitations" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "signed out after 15 minutes without activity" in page
    assert open_sessions(staff_app) == []
    assert events(staff_app, "account.session_ended")[0][3] == {"reason": "idle"}


def test_activity_keeps_a_session_alive(staff_app, clinician):
    staff_app.config["SESSION_IDLE_MINUTES"] = 30
    client = staff_app.test_client()
    sign_in(client)
    for _ in range(3):  # 3 x 20 minutes, each time with a request in between
        _age_session(staff_app, minutes=20)
        assert client.get("/staff/").status_code == 200


def test_session_has_an_absolute_limit(staff_app, clinician):
    staff_app.config["SESSION_MAX_HOURS"] = 1
    client = staff_app.test_client()
    sign_in(client)
    with staff_app.app_context():
        row = db.session.scalar(select(StaffSession))
        row.created_at -= datetime.timedelta(hours=2)
        db.session.commit()
    assert client.get("/staff/").status_code == 302


def test_disabling_an_account_ends_its_sessions(staff_app, clinician):
    client = staff_app.test_client()
    sign_in(client)
    with staff_app.app_context():
        db.session.get(User, clinician).active = False
        db.session.commit()
    assert client.get("/staff/").status_code == 302
    with staff_app.app_context():
        assert db.session.scalar(select(StaffSession)).end_reason == "disabled"


def test_end_all_sessions(staff_app, clinician):
    laptop, tablet = staff_app.test_client(), staff_app.test_client()
    sign_in(laptop)
    sign_in(tablet)
    with staff_app.app_context():
        assert auth.end_all_sessions(clinician, "password_changed") == 2
        db.session.commit()
    assert laptop.get("/staff/").status_code == 302
    assert tablet.get("/staff/").status_code == 302


# -- roles -------------------------------------------------------------------------------------

def test_clinician_cannot_reach_admin_pages(clinician_client):
    assert clinician_client.get("/admin/").status_code == 403
    assert "Admin" not in clinician_client.get("/staff/").get_data(as_text=True).split("<main")[0]


def test_admin_reaches_admin_pages_and_staff_pages(staff_app):
    make_user(staff_app, "boss@example.org", role="admin")
    client = staff_app.test_client()
    sign_in(client, email="boss@example.org")
    assert client.get("/admin/").status_code == 200
    assert client.get("/staff/").status_code == 200


def test_signed_out_visitor_is_sent_to_sign_in_from_admin(staff_app):
    response = staff_app.test_client().get("/admin/")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_role_required_rejects_unknown_roles():
    with pytest.raises(ValueError):
        auth.role_required("superuser")


# -- the first admin ---------------------------------------------------------------------------

def _setup_path(caplog) -> str:
    messages = [r.getMessage() for r in caplog.records if "/setup/" in r.getMessage()]
    assert messages, "no setup link was logged"
    return re.search(r"(/setup/[A-Za-z0-9_-]+)", messages[-1]).group(1)


def test_fresh_install_logs_a_one_time_setup_link(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "k"})
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:1024:8:1"
    path = _setup_path(caplog)
    client = app.test_client()
    assert client.get("/setup/not-the-token").status_code == 404
    token = csrf_from(client, path)
    mismatch = client.post(path, data={"csrf_token": token, "email": "boss@example.org", "password": PASSWORD,
                                       "confirm": PASSWORD + "x"})
    assert mismatch.status_code == 400 and "differ" in mismatch.get_data(as_text=True)
    done = client.post(path, data={"csrf_token": token, "email": "boss@example.org", "password": PASSWORD,
                                   "confirm": PASSWORD})
    assert done.status_code == 302
    assert client.get("/admin/").status_code == 200  # signed in as the new admin
    with app.app_context():
        assert [(u.email, u.role) for u in db.session.scalars(select(User))] == [("boss@example.org", "admin")]
    # Single use: the link (and any other setup link) is dead once an account exists.
    assert app.test_client().get(path).status_code == 404
    assert [e[1] for e in events(app)] == ["account.first_admin_created", "account.sign_in"]
    # A restart with a user does not print a new link.
    caplog.clear()
    create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "k"})
    assert not [r for r in caplog.records if "/setup/" in r.getMessage()]
    with app.app_context():
        db.engine.dispose()


def test_setup_link_expires(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "k"})
    path = _setup_path(caplog)
    from screening.accounts.models import SetupToken

    with app.app_context():
        for row in db.session.scalars(select(SetupToken)):
            row.expires_at = datetime.datetime(2000, 1, 1)
        db.session.commit()
    assert app.test_client().get(path).status_code == 404
    with app.app_context():
        db.engine.dispose()


def test_setup_link_is_printed_by_flask_run_but_not_by_other_commands(tmp_path, caplog):
    import click

    caplog.set_level(logging.WARNING)
    config = {"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "k"}
    with click.Context(click.Command("evaluate")):
        quiet = create_app(config)
    assert not [r for r in caplog.records if "/setup/" in r.getMessage()]
    run = click.Context(click.Command("run"))
    run.params = {"host": "0.0.0.0", "port": 8123, "cert": None}
    with run:
        served = create_app(config)
    assert re.search(r"http://127\.0\.0\.1:8123/setup/[A-Za-z0-9_-]{40,}", _setup_path(caplog) and caplog.text)
    for app in (quiet, served):
        with app.app_context():
            db.engine.dispose()
