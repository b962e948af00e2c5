"""Two slips on staff pages: an action that cannot be undone asks first (a confirmation page: its GET changes
nothing, Cancel changes nothing, its button does what the one-click POST did, with the same audit event), and
a create form sent again (reload, double click) creates exactly one invitation or API token and never shows
the secret twice."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from screening.accounts.models import TwoFactor
from screening.api.models import ApiToken
from screening.db import db
from screening.invitations import create_invitation
from screening.models import AuditEvent, Draft, Intake, QuestionSetVersion, User, utcnow
from screening.once import SpentForm
from test_admin_support import QS_PAGE, admin_client, form_data, plain, text_of  # noqa: F401
from test_clinician_support import PASSWORD, make_user, staff_app  # noqa: F401


def events(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(e.action, e.target) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def confirm(client, app, page: str, action: str, question: str) -> None:
    """``page`` links to ``action``'s confirmation page, which names the change and whose GET and Cancel
    change nothing; its button then carries the action out (the caller checks the result)."""
    assert f'href="{action}"' in text_of(client.get(page)), (page, action)
    before = events(app)
    asked = client.get(action)
    assert asked.status_code == 200, action
    assert question in plain(asked), plain(asked)
    assert re.search(rf'<a class="btn" href="{re.escape(page.split("#")[0])}[^"]*">Cancel</a>', text_of(asked))
    assert client.get(page.split("#")[0]).status_code == 200  # Cancel
    assert events(app) == before  # nothing happened, not even a logged one
    done = client.post(action, data=form_data(text_of(asked), action))
    assert done.status_code in (200, 302, 303), (action, done.status_code)


def test_invitation_and_token_actions_ask_first_then_do_what_the_one_click_did(staff_app, admin_client):
    with staff_app.app_context():
        waiting, _ = create_invitation("Wait Ing", None, "REF-7")
        busy, _ = create_invitation(None, None, "REF-8")
        db.session.commit()
        waiting_id, busy_id, busy_hash = waiting.id, busy.id, busy.token_hash
    revoke, new_link = f"/staff/invitations/{waiting_id}/revoke", f"/staff/invitations/{busy_id}/new-link"
    assert admin_client.get(revoke).status_code == 200
    with staff_app.app_context():
        assert db.session.get(Intake, waiting_id).state == "not_started"

    confirm(admin_client, staff_app, "/staff/invitations", revoke, f"Revoke invitation no. {waiting_id} (Wait Ing)?")
    confirm(admin_client, staff_app, "/staff/invitations", new_link,
            f"Replace the link of invitation no. {busy_id} (ref REF-8)?")
    with staff_app.app_context():
        assert db.session.get(Intake, waiting_id).state == "revoked"
        assert db.session.get(Intake, busy_id).token_hash != busy_hash
    assert [e for e in events(staff_app) if e[0].startswith("invitation.")] == [
        ("invitation.revoked", f"intake:{waiting_id}"), ("invitation.link_replaced", f"intake:{busy_id}")]
    # A revoked invitation has nothing to confirm: back to the list, with the reason.
    gone = admin_client.get(revoke, follow_redirects=True)
    assert "cannot be revoked" in plain(gone) and "Revoke the invitation" not in plain(gone)

    page = admin_client.get("/admin/api-tokens")
    admin_client.post("/admin/api-tokens", data=form_data(text_of(page), "/admin/api-tokens") | {"name": "Epic"})
    with staff_app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    confirm(admin_client, staff_app, "/admin/api-tokens", f"/admin/api-tokens/{token_id}/revoke",
            "Revoke the API token 'Epic'?")
    with staff_app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is not None
    assert events(staff_app)[-1] == ("api_token.revoked", f"api_token:{token_id}")


def test_account_actions_ask_first(staff_app, admin_client):
    colleague = make_user(staff_app, "col@example.org")
    with staff_app.app_context():
        db.session.add(TwoFactor(user_id=colleague, secret="JBSWY3DPEHPK3PXP", confirmed_at=utcnow()))
        db.session.commit()
    page = f"/admin/accounts/{colleague}"
    html = text_of(admin_client.get(page))
    assert f'action="{page}/role"' in html and 'method="get"' in html and "csrf_token" not in html.split(
        f'action="{page}/role"')[1].split("</form>")[0]  # no token in a URL
    before = events(staff_app)
    asked = admin_client.get(f"{page}/role?role=admin")
    assert "Make col@example.org an admin?" in plain(asked) and events(staff_app) == before
    admin_client.post(f"{page}/role", data=form_data(text_of(asked), f"{page}/role"))
    confirm(admin_client, staff_app, page, f"{page}/two-factor/remove", "Turn off two-factor sign-in for col@example.org?")
    confirm(admin_client, staff_app, page, f"{page}/disable", "Disable col@example.org?")
    with staff_app.app_context():
        user = db.session.get(User, colleague)
        assert (user.role, user.active) == ("admin", False)
        assert db.session.scalar(select(func.count(TwoFactor.id))) == 0
    assert [e[0] for e in events(staff_app)[len(before):]] == [
        "account.role_changed", "account.two_factor_removed", "account.disabled"]
    # Enabling is undone by disabling: it stays one click.
    assert "Enable account" in text_of(admin_client.get(page))
    same = admin_client.get(f"{page}/role?role=admin", follow_redirects=True)
    assert "already an admin" in plain(same)


def test_draft_and_version_actions_ask_first(staff_app, admin_client):
    item = "tms_history"
    confirm(admin_client, staff_app, QS_PAGE, f"{QS_PAGE}/items/{item}/remove",
            f"Remove the question '{item}' from the draft?")
    with staff_app.app_context():
        assert f"id: {item}" not in db.session.scalar(select(Draft.yaml_text))
    section = re.search(r'/sections/([a-z0-9_-]+)/remove"', text_of(admin_client.get(QS_PAGE))).group(1)
    confirm(admin_client, staff_app, QS_PAGE, f"{QS_PAGE}/sections/{section}/remove", "from the draft?")
    confirm(admin_client, staff_app, QS_PAGE, f"{QS_PAGE}/discard", "Discard the draft of question set 'ketamine-intake'?")
    with staff_app.app_context():
        assert db.session.scalar(select(func.count(Draft.id))) == 0
    assert [e[0] for e in events(staff_app) if e[0].startswith("admin.draft")][-1] == "admin.draft_discarded"

    nothing = admin_client.get(f"{QS_PAGE}/discard", follow_redirects=True)  # no draft: nothing to ask about
    assert "There is no draft to discard." in plain(nothing)
    with staff_app.app_context():  # a version 2 to roll back from
        v1 = db.session.scalar(select(QuestionSetVersion).where(QuestionSetVersion.version == 1))
        db.session.add(QuestionSetVersion(set_id=v1.set_id, version=2, title=v1.title, yaml_text=v1.yaml_text,
                                          content_hash=v1.content_hash))
        db.session.commit()
    confirm(admin_client, staff_app, f"{QS_PAGE}/versions", f"{QS_PAGE}/versions/1/rollback",
            "Publish version 1 of question set 'ketamine-intake' again?")
    with staff_app.app_context():
        assert db.session.scalar(select(func.max(QuestionSetVersion.version))) == 3
    assert events(staff_app)[-1][0] == "rollback"


def test_a_resubmitted_invitation_form_creates_one_invitation_and_shows_its_link_once(staff_app, admin_client):
    form = form_data(text_of(admin_client.get("/staff/invitations/new")), "/staff/invitations/new")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", form["nonce"])
    form |= {"patient_name": "Double Click", "clinic_ref": "MRN-2"}
    first = admin_client.post("/staff/invitations/new", data=form)
    assert first.status_code == 200 and 'id="link"' in text_of(first)
    again = admin_client.post("/staff/invitations/new", data=form)  # reload: "send the form again?"
    assert again.status_code == 409
    with staff_app.app_context():
        intake_id = db.session.scalar(select(Intake.id))
        assert db.session.scalar(select(func.count(Intake.id))) == 1
        spent = db.session.get(SpentForm, form["nonce"])
        assert (spent.purpose, spent.target) == ("invitation", f"intake:{intake_id}")
    text = plain(again)
    assert "This invitation was already created" in text and f"invitation no. {intake_id}" in text
    assert 'id="link"' not in text_of(again) and "/i/" not in text_of(again)
    assert 'href="/staff/invitations"' in text_of(again)
    assert [e for e in events(staff_app) if e[0] == "invitation.created"] == [("invitation.created", f"intake:{intake_id}")]

    fresh = form_data(text_of(admin_client.get("/staff/invitations/new")), "/staff/invitations/new")
    assert fresh["nonce"] != form["nonce"]  # a new form makes a new invitation
    assert admin_client.post("/staff/invitations/new", data=fresh | {"clinic_ref": "MRN-3"}).status_code == 200
    refused = admin_client.post("/staff/invitations/new", data=fresh | {"clinic_ref": "MRN-4", "nonce": "not a nonce"})
    assert refused.status_code == 409
    with staff_app.app_context():
        assert db.session.scalar(select(func.count(Intake.id))) == 2


def test_a_resubmitted_token_form_creates_one_token(staff_app, admin_client):
    form = form_data(text_of(admin_client.get("/admin/api-tokens")), "/admin/api-tokens") | {"name": "Bridge"}
    first = admin_client.post("/admin/api-tokens", data=form)
    assert first.status_code == 200 and "scr_" in text_of(first)
    assert 'name="nonce"' in text_of(first) and form["nonce"] not in text_of(first)  # the next form is new
    again = admin_client.post("/admin/api-tokens", data=form)
    assert again.status_code == 409 and "This API token was already created" in plain(again)
    assert "scr_" not in text_of(again)
    with staff_app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 1
    assert [e[0] for e in events(staff_app)].count("api_token.created") == 1


def test_turning_off_one_s_own_two_factor_asks_first_with_the_password(staff_app, admin_client):
    with staff_app.app_context():
        user_id = db.session.scalar(select(User.id))
        db.session.add(TwoFactor(user_id=user_id, secret="JBSWY3DPEHPK3PXP", confirmed_at=utcnow()))
        db.session.commit()
    overview = text_of(admin_client.get("/staff/account/"))
    assert "formaction" not in overview  # no longer a second button of the recovery-codes form
    asked = admin_client.get("/staff/account/two-factor/off")
    assert "Turn off two-factor sign-in for your account?" in plain(asked)
    assert 'type="password"' in text_of(asked) and 'href="/staff/account/"' in text_of(asked)
    data = form_data(text_of(asked), "/staff/account/two-factor/off")
    assert admin_client.post("/staff/account/two-factor/off", data=data | {"password": "wrong"}).status_code == 400
    with staff_app.app_context():
        assert db.session.scalar(select(func.count(TwoFactor.id))) == 1
    admin_client.post("/staff/account/two-factor/off", data=data | {"password": PASSWORD})
    with staff_app.app_context():
        assert db.session.scalar(select(func.count(TwoFactor.id))) == 0
    assert events(staff_app)[-1][0] == "account.two_factor_removed"


def test_a_double_click_sent_at_the_same_moment_creates_one_invitation(staff_app, admin_client):
    """Two requests with the same form at once (two app processes, or two threads here): one creates,
    the other waits for it and is told it was already created."""
    import threading

    from test_clinician_support import sign_in

    second = staff_app.test_client()
    assert sign_in(second, email="boss@example.org", password=PASSWORD).status_code == 302
    form = form_data(text_of(admin_client.get("/staff/invitations/new")), "/staff/invitations/new")
    form |= {"clinic_ref": "MRN-9"}
    start, statuses = threading.Barrier(2), []

    second_form = form | {"csrf_token": form_data(text_of(second.get("/staff/invitations/new")),
                                                  "/staff/invitations/new")["csrf_token"]}

    def send(client, data):
        start.wait()
        statuses.append(client.post("/staff/invitations/new", data=data).status_code)

    threads = [threading.Thread(target=send, args=pair) for pair in ((admin_client, form), (second, second_form))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    with staff_app.app_context():
        assert db.session.scalar(select(func.count(Intake.id))) == 1
