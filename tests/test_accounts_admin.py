"""The admin's account screens: the staff list, inviting a colleague (a one-time link, 72 hours), roles, the
last-admin guard, disabling (the live session is refused on its next request), reset links (single use,
expiring, ending every session), turning off a lost second factor, email of links over SMTP, and an audit
event for every change. The first test is the issue's "done": a new admin adds a colleague and both sign in
with two factors."""

from __future__ import annotations

import datetime
import re
import socketserver
import threading
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from accounts_helpers import audit_events, code_at, enrol, fixed_clock, page_text, sign_in_with_code
from screening.accounts.models import AccountLink, StaffSession
from screening.db import db
from screening.models import User
from test_clinician_support import PASSWORD, csrf_from, make_user, sign_in, sign_out, staff_app  # noqa: F401

LINK_RE = re.compile(r'<input id="link" class="link-box" type="text" value="([^"]+)" readonly>')
NEW_PASSWORD = "a colleague's own long password"


@pytest.fixture
def admin(staff_app):
    return make_user(staff_app, "boss@example.org", role="admin")


@pytest.fixture
def admin_client(staff_app, admin):
    client = staff_app.test_client()
    assert sign_in(client, "boss@example.org").status_code == 302
    return client


def invite(client, email: str, role: str = "clinician") -> str:
    """Invite through the page; the path of the link it shows."""
    token = csrf_from(client, "/admin/accounts/invite")
    response = client.post("/admin/accounts/invite", data={"csrf_token": token, "email": email, "role": role})
    assert response.status_code == 200, page_text(response)
    link = LINK_RE.search(response.get_data(as_text=True)).group(1)
    assert link.startswith("http://localhost/invite/")
    return link[len("http://localhost"):]


def set_password(client, path: str, password: str = NEW_PASSWORD):
    token = csrf_from(client, path)
    return client.post(path, data={"csrf_token": token, "password": password, "confirm": password})


def post(client, path: str, **data):
    token = csrf_from(client, "/admin/accounts/")
    return client.post(path, data={"csrf_token": token, **data})


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def test_a_new_admin_adds_a_colleague_and_both_sign_in_with_two_factors(staff_app, monkeypatch):
    clock = fixed_clock(monkeypatch)
    make_user(staff_app, "boss@example.org", role="admin")
    boss = staff_app.test_client()
    sign_in(boss, "boss@example.org")
    boss_secret, _ = enrol(boss, clock)
    path = invite(boss, "colleague@example.org")
    listed = page_text(boss.get("/admin/accounts/"))
    assert "colleague@example.org" in listed and "Invited" in listed

    colleague = staff_app.test_client()
    assert "Set up your account" in page_text(colleague.get(path))
    done = set_password(colleague, path)
    assert done.status_code == 302 and done.headers["Location"] == "/sign-in"
    assert sign_in(colleague, "colleague@example.org", NEW_PASSWORD).status_code == 302
    colleague_secret, _ = enrol(colleague, clock)
    sign_out(colleague)
    sign_out(boss)

    clock.now += 30
    for client, email, secret, password in ((boss, "boss@example.org", boss_secret, PASSWORD),
                                            (colleague, "colleague@example.org", colleague_secret, NEW_PASSWORD)):
        first = sign_in(client, email, password)
        assert first.headers["Location"] == "/sign-in/code"
        from accounts_helpers import enter_code

        assert enter_code(client, code_at(secret, clock.now)).status_code == 302
        assert client.get("/staff/").status_code == 200
    assert colleague.get("/admin/accounts/").status_code == 403  # a clinician
    listed = page_text(boss.get("/admin/accounts/"))
    assert listed.count(">On<") == 2 and "never" not in listed
    colleague_id = user_id(staff_app, "colleague@example.org")
    boss_id = user_id(staff_app, "boss@example.org")
    assert audit_events(staff_app, "account.invited") == [
        (f"user:{boss_id}", "account.invited", f"user:{colleague_id}", {"role": "clinician"})]
    assert audit_events(staff_app, "account.invite_accepted") == [
        ("invite-link", "account.invite_accepted", f"user:{colleague_id}", {})]


def test_the_staff_list_shows_role_status_and_last_sign_in(staff_app, admin_client):
    make_user(staff_app, "gone@example.org", active=False)
    make_user(staff_app, "new@example.org")
    with staff_app.app_context():
        db.session.add(StaffSession(token_hash="x" * 64, user_id=user_id(staff_app, "new@example.org"),
                                    created_at=datetime.datetime(2026, 3, 15, 14, 2),
                                    last_seen_at=datetime.datetime(2026, 3, 15, 14, 2),
                                    ended_at=datetime.datetime(2026, 3, 15, 15, 0), end_reason="signed_out"))
        db.session.commit()
    text = page_text(admin_client.get("/admin/accounts/"))
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr class="status-\w+">\s*<td><a[^>]*>([^<]+)</a>.*?</tr>',
                                                         text, re.S)}
    assert set(rows) == {"boss@example.org", "gone@example.org", "new@example.org"}
    assert "Admin" in rows["boss@example.org"] and "Active" in rows["boss@example.org"]
    assert "Disabled" in rows["gone@example.org"] and "never" in rows["gone@example.org"]
    assert "2026-03-15 14:02" in rows["new@example.org"] and "Clinician" in rows["new@example.org"]


def test_invitations_check_the_email_and_refuse_duplicates(staff_app, admin_client):
    token = csrf_from(admin_client, "/admin/accounts/invite")
    bad = admin_client.post("/admin/accounts/invite", data={"csrf_token": token, "email": "not an email",
                                                            "role": "clinician"})
    assert bad.status_code == 400 and "valid email" in page_text(bad)
    taken = admin_client.post("/admin/accounts/invite", data={"csrf_token": token, "email": "BOSS@example.org",
                                                              "role": "admin"})
    assert taken.status_code == 400 and "already exists" in page_text(taken)
    role = admin_client.post("/admin/accounts/invite", data={"csrf_token": token, "email": "x@example.org",
                                                             "role": "superuser"})
    assert role.status_code == 400
    with staff_app.app_context():
        assert db.session.scalar(select(User).where(User.email == "x@example.org")) is None


def test_an_invited_account_cannot_sign_in_before_setting_its_password(staff_app, admin_client):
    path = invite(admin_client, "colleague@example.org")
    client = staff_app.test_client()
    assert sign_in(client, "colleague@example.org", "").status_code == 400
    assert sign_in(client, "colleague@example.org", "anything at all here").status_code == 400
    assert set_password(client, path, "short").status_code == 400  # refused, and the link still works
    assert set_password(client, path).status_code == 302


def test_invitation_links_are_single_use_and_expire_after_72_hours(staff_app, admin_client):
    path = invite(admin_client, "one@example.org")
    assert set_password(staff_app.test_client(), path).status_code == 302
    used = staff_app.test_client().get(path)
    assert used.status_code == 404 and "This link is not valid" in page_text(used)

    late = invite(admin_client, "two@example.org")
    with staff_app.app_context():
        row = db.session.scalar(select(AccountLink).order_by(AccountLink.id.desc()))
        assert row.expires_at - row.created_at == datetime.timedelta(hours=72)
        assert row.token_hash != late.rsplit("/", 1)[1]  # stored hashed
        row.expires_at = row.created_at - datetime.timedelta(seconds=1)
        db.session.commit()
    assert staff_app.test_client().get(late).status_code == 404
    assert "expired" in page_text(admin_client.get(f"/admin/accounts/{user_id(staff_app, 'two@example.org')}"))
    # The admin makes a new invitation for the account; the old link stays dead, the new one works.
    two = user_id(staff_app, "two@example.org")
    renewed = post(admin_client, f"/admin/accounts/{two}/link")
    assert renewed.status_code == 200 and "Invitation for two@example.org" in page_text(renewed)
    new_path = LINK_RE.search(renewed.get_data(as_text=True)).group(1)[len("http://localhost"):]
    assert set_password(staff_app.test_client(), new_path).status_code == 302
    assert sign_in(staff_app.test_client(), "two@example.org", NEW_PASSWORD).status_code == 302


def reset_link(app, client, target: int) -> str:
    response = post(client, f"/admin/accounts/{target}/link")
    assert response.status_code == 200 and "Password reset for" in page_text(response)
    return LINK_RE.search(response.get_data(as_text=True)).group(1)[len("http://localhost"):]


def test_reset_links_are_single_use_expire_and_end_every_session(staff_app, admin, admin_client):
    clinician = make_user(staff_app, "clin@example.org")
    laptop = staff_app.test_client()
    sign_in(laptop)
    path = reset_link(staff_app, admin_client, clinician)
    assert path.startswith("/reset-password/")
    with staff_app.app_context():
        row = db.session.scalar(select(AccountLink).where(AccountLink.user_id == clinician))
        assert row.expires_at - row.created_at == datetime.timedelta(hours=24)
    assert laptop.get("/staff/").status_code == 200  # issuing the link changes nothing yet
    done = set_password(staff_app.test_client(), path)
    assert done.status_code == 302
    assert laptop.get("/staff/").status_code == 302  # every session of the account ended
    assert sign_in(staff_app.test_client(), "clin@example.org", PASSWORD).status_code == 400
    assert sign_in(staff_app.test_client(), "clin@example.org", NEW_PASSWORD).status_code == 302
    assert staff_app.test_client().get(path).status_code == 404  # used

    expired = reset_link(staff_app, admin_client, clinician)
    with staff_app.app_context():
        row = db.session.scalar(select(AccountLink).order_by(AccountLink.id.desc()))
        row.created_at -= datetime.timedelta(hours=25)
        row.expires_at -= datetime.timedelta(hours=25)
        db.session.commit()
    assert staff_app.test_client().get(expired).status_code == 404
    # A newer link ends the one before it.
    older, newer = reset_link(staff_app, admin_client, clinician), reset_link(staff_app, admin_client, clinician)
    assert staff_app.test_client().get(older).status_code == 404
    assert staff_app.test_client().get(newer).status_code == 200
    events = audit_events(staff_app)
    assert [e[1] for e in events if e[1] in ("account.reset_link_issued", "account.password_reset")] == [
        "account.reset_link_issued", "account.password_reset", "account.reset_link_issued",
        "account.reset_link_issued", "account.reset_link_issued"]
    assert all(NEW_PASSWORD not in str(e) and "/reset-password/" not in str(e) for e in events)


def test_a_disabled_account_s_live_session_is_refused_on_its_next_request(staff_app, admin_client):
    clinician = make_user(staff_app, "clin@example.org")
    laptop, tablet = staff_app.test_client(), staff_app.test_client()
    sign_in(laptop)
    sign_in(tablet)
    token = csrf_from(laptop, "/staff/invitations/new")
    before = reset_link(staff_app, admin_client, clinician)
    assert post(admin_client, f"/admin/accounts/{clinician}/disable").status_code == 303
    refused = laptop.post("/staff/invitations/new", data={"csrf_token": token, "patient_name": "After Disable"})
    assert refused.status_code == 302 and "/sign-in" in refused.headers["Location"]
    assert tablet.get("/staff/").status_code == 302
    with staff_app.app_context():
        assert {s.end_reason for s in db.session.scalars(select(StaffSession).where(
            StaffSession.user_id == clinician))} == {"disabled"}
    assert sign_in(staff_app.test_client()).status_code == 400
    assert "Disabled" in page_text(admin_client.get(f"/admin/accounts/{clinician}"))
    # A reset link cannot be made for (or used by) a disabled account.
    assert post(admin_client, f"/admin/accounts/{clinician}/link").status_code == 400
    assert post(admin_client, f"/admin/accounts/{clinician}/enable").status_code == 303
    assert sign_in(staff_app.test_client()).status_code == 302
    assert staff_app.test_client().get(before).status_code == 404  # a link from before stays dead
    assert [e[1] for e in audit_events(staff_app) if e[1] in ("account.disabled", "account.enabled")] == [
        "account.disabled", "account.enabled"]


def test_the_last_active_admin_cannot_be_disabled_or_demoted(staff_app, admin, admin_client):
    own = page_text(post(admin_client, f"/admin/accounts/{admin}/role", role="clinician"))
    assert "last active admin" in own
    assert post(admin_client, f"/admin/accounts/{admin}/disable").status_code == 400
    # An admin who has not set a password yet (only invited) does not count.
    invite(admin_client, "future@example.org", role="admin")
    assert post(admin_client, f"/admin/accounts/{admin}/role", role="clinician").status_code == 400
    with staff_app.app_context():
        boss = db.session.get(User, admin)
        assert boss.role == "admin" and boss.active
    assert admin_client.get("/admin/accounts/").status_code == 200
    assert not audit_events(staff_app, "account.role_changed") and not audit_events(staff_app, "account.disabled")
    # With a second active admin, either may step down, until one is left again.
    second = make_user(staff_app, "second@example.org", role="admin")
    assert post(admin_client, f"/admin/accounts/{second}/role", role="clinician").status_code == 303
    assert post(admin_client, f"/admin/accounts/{second}/role", role="admin").status_code == 303
    stepped_down = post(admin_client, f"/admin/accounts/{admin}/role", role="clinician")
    assert stepped_down.status_code == 303 and stepped_down.headers["Location"] == "/staff/"
    assert admin_client.get("/admin/accounts/").status_code == 403  # demoted themself: no longer an admin
    other = staff_app.test_client()
    sign_in(other, "second@example.org")
    assert post(other, f"/admin/accounts/{second}/disable").status_code == 400
    assert audit_events(staff_app, "account.role_changed")[-1][3] == {"role": "clinician", "previous": "admin"}


def test_a_clinician_cannot_use_the_account_screens(staff_app, admin):
    clinician = make_user(staff_app, "clin@example.org")
    client = staff_app.test_client()
    sign_in(client)
    token = csrf_from(client, "/staff/")
    assert client.get("/admin/accounts/").status_code == 403
    promote = client.post(f"/admin/accounts/{clinician}/role", data={"csrf_token": token, "role": "admin"})
    assert promote.status_code == 403
    assert client.post(f"/admin/accounts/{admin}/disable", data={"csrf_token": token}).status_code == 403
    assert "Accounts" not in page_text(client.get("/staff/")).split("<main")[0]
    with staff_app.app_context():
        assert db.session.get(User, clinician).role == "clinician" and db.session.get(User, admin).active


def test_an_admin_turns_off_a_lost_second_factor(staff_app, admin_client, monkeypatch):
    clock = fixed_clock(monkeypatch)
    clinician = make_user(staff_app, "clin@example.org")
    phone_owner = staff_app.test_client()
    sign_in(phone_owner)
    enrol(phone_owner, clock)
    sign_out(phone_owner)
    assert "Turn off two-factor" in page_text(admin_client.get(f"/admin/accounts/{clinician}"))
    assert post(admin_client, f"/admin/accounts/{clinician}/two-factor/remove").status_code == 303
    assert sign_in(staff_app.test_client()).headers["Location"] == "/staff/"
    assert [e[:3] for e in audit_events(staff_app, "account.two_factor_removed")] == [
        (f"user:{user_id(staff_app, 'boss@example.org')}", "account.two_factor_removed", f"user:{clinician}")]


def test_unknown_accounts_and_forged_posts(staff_app, admin_client, admin):
    assert admin_client.get("/admin/accounts/987654").status_code == 404
    assert post(admin_client, "/admin/accounts/987654/disable").status_code == 404
    assert admin_client.post(f"/admin/accounts/{admin}/disable").status_code == 400  # no CSRF token
    assert post(admin_client, f"/admin/accounts/{admin}/role", role="superuser").status_code == 400
    with staff_app.app_context():
        assert db.session.get(User, admin).active


# -- email -----------------------------------------------------------------------------------------

class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to take one message: what a local relay does."""

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        envelope = {"to": [], "data": b""}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 test\r\n")
            elif verb == b"MAIL":
                self.wfile.write(b"250 OK\r\n")
            elif verb == b"RCPT":
                envelope["to"].append(line.decode().split(":", 1)[1].strip(" <>\r\n"))
                self.wfile.write(b"250 OK\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                body = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(chunk)
                envelope["data"] = b"".join(body)
                self.server.messages.append(envelope)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 OK\r\n")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_links_are_emailed_when_smtp_is_configured(staff_app, admin_client, smtp_server):
    staff_app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.server_address[1], SMTP_SECURITY="none",
                            MAIL_FROM="Test Clinic <no-reply@example.org>")
    token = csrf_from(admin_client, "/admin/accounts/invite")
    response = admin_client.post("/admin/accounts/invite", data={"csrf_token": token, "email": "new@example.org",
                                                                 "role": "clinician"})
    assert response.status_code == 200 and "The link was emailed to new@example.org" in page_text(response)
    link = LINK_RE.search(response.get_data(as_text=True)).group(1)
    [sent] = smtp_server.messages
    assert sent["to"] == ["new@example.org"]
    message = message_from_bytes(sent["data"], policy=policy.default)
    assert message["Subject"] == "Your staff account at Test Clinic"
    body = message.get_content()
    assert link in body and "72 hours" in body
    assert [e[1] for e in audit_events(staff_app, "account.link_emailed")] == ["account.link_emailed"]


def test_a_mail_server_that_cannot_be_reached_still_shows_the_link(staff_app, admin_client, caplog):
    probe = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens there now
    staff_app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none", MAIL_FROM="x@example.org")
    token = csrf_from(admin_client, "/admin/accounts/invite")
    response = admin_client.post("/admin/accounts/invite", data={"csrf_token": token, "email": "new@example.org",
                                                                 "role": "clinician"})
    text = page_text(response)
    assert response.status_code == 200 and "The email could not be sent" in text
    link = LINK_RE.search(response.get_data(as_text=True)).group(1)
    assert link not in caplog.text  # the log never holds the link
    assert [e[1] for e in audit_events(staff_app, "account.link_email_failed")] == ["account.link_email_failed"]


def test_a_locked_out_admin_is_rescued_from_the_command_line(staff_app, admin, monkeypatch):
    clock = fixed_clock(monkeypatch)
    boss = staff_app.test_client()
    sign_in(boss, "boss@example.org")
    enrol(boss, clock)
    runner = staff_app.test_cli_runner()
    assert runner.invoke(args=["reset-link", "nobody@example.org"]).exit_code == 1
    printed = runner.invoke(args=["reset-link", "BOSS@example.org"])
    assert printed.exit_code == 0, printed.output
    link = re.search(r"http://127\.0\.0\.1:5000(/reset-password/[A-Za-z0-9_-]{40,})", printed.output).group(1)
    assert boss.get("/staff/").status_code == 200
    assert set_password(staff_app.test_client(), link).status_code == 302
    assert boss.get("/staff/").status_code == 302  # the reset ended the session
    removed = runner.invoke(args=["remove-two-factor", "boss@example.org"])
    assert removed.exit_code == 0 and "Two-factor sign-in is off" in removed.output
    assert sign_in(staff_app.test_client(), "boss@example.org", NEW_PASSWORD).headers["Location"] == "/staff/"
    assert [e[:2] for e in audit_events(staff_app) if e[0] == "cli"] == [
        ("cli", "account.reset_link_issued"), ("cli", "account.two_factor_removed")]


def test_request_logs_never_show_an_account_link_token(staff_app, admin_client, caplog):
    import logging

    path = invite(admin_client, "new@example.org")
    token = path.rsplit("/", 1)[1]
    caplog.set_level(logging.INFO)
    for request_line in (f"GET {path} HTTP/1.1", f"POST /reset-password/{token} HTTP/1.1"):
        # As werkzeug's development server and gunicorn's access log write them.
        logging.getLogger("werkzeug").info("%s - - [%s] %s", "127.0.0.1", "01/Dec/2026 10:00:00",
                                           f'"{request_line}" 200 -')
        logging.getLogger("gunicorn.access").info('%(h)s "%(r)s" %(s)s',
                                                  {"h": "127.0.0.1", "r": request_line, "s": "200"})
    assert token not in caplog.text
    assert caplog.text.count("/invite/[token]") == 2 and caplog.text.count("/reset-password/[token]") == 2


def test_two_admins_demoting_each_other_at_once_leave_one_admin(staff_app, admin):
    """A's change is open (audit event written, role changed, not committed) when B starts: B's change waits
    for A's commit, then counts the admins A left, and is refused."""
    import time

    from screening.accounts import management

    second = make_user(staff_app, "second@example.org", role="admin")
    a_open, outcome = threading.Event(), {}

    def demote(by: int, target: int, hold: bool) -> None:
        with staff_app.app_context():
            user = db.session.get(User, target)
            try:
                management.change_role(user, "clinician", f"user:{by}")
                if hold:
                    a_open.set()
                    time.sleep(0.5)  # keep the transaction open while the other admin starts
                db.session.commit()
                outcome[by] = "demoted"
            except management.LastAdminError:
                db.session.rollback()
                outcome[by] = "refused"
            finally:
                db.session.remove()

    a = threading.Thread(target=demote, args=(admin, second, True))
    a.start()
    assert a_open.wait(30)
    b = threading.Thread(target=demote, args=(second, admin, False))
    b.start()
    a.join(30)
    b.join(30)
    assert outcome == {admin: "demoted", second: "refused"}
    with staff_app.app_context():
        assert [u.email for u in db.session.scalars(select(User).where(User.role == "admin"))] == ["boss@example.org"]
