"""Getting into an intake and staying safe: the link, token-free URLs, revoked and used links, ended
sessions and expired CSRF tokens that never lose a page, the CLI, the public start page, headers, logs."""

from __future__ import annotations

import datetime
import logging
import re
import time

import pytest
from itsdangerous.timed import TimestampSigner

from intake_helpers import (GOOD_PAGES, complete_intake, complete_section, error_summary, form_controls,
                            hidden_value, invite, load_intake, location, open_link, page)
from screening.db import db
from screening.intake import RedactLinkTokens
from screening.invitations import find_intake, revoke
from screening.models import AuditEvent, Intake, utcnow

CSRF_MESSAGE = ("For your security we could not save this page yet. Please check your answers and press Next "
                "again.")


@pytest.fixture(autouse=True)
def no_pdf_on_submit(app):
    app.config["REPORT_RENDER_ON_SUBMIT"] = False


def test_the_link_opens_its_intake_and_moves_to_token_free_urls(app, client):
    intake_id, token = invite(app)
    response = open_link(client, token)
    assert response.status_code == 303 and location(response) == "/intake"
    assert token not in location(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "same-origin"
    with client.session_transaction() as session:
        assert session["intake_id"] == intake_id
        assert token not in repr(dict(session))
    intake = load_intake(app, intake_id)
    assert intake.state == "in_progress" and intake.started_at is not None
    first = client.get(location(client.get("/intake")))
    assert first.status_code == 200 and token not in page(first)
    with app.app_context():
        events = db.session.query(AuditEvent).filter_by(action="intake.opened").all()
        assert [e.target for e in events] == [f"intake:{intake_id}"]


def test_a_link_opens_its_own_intake_and_nothing_else(app, client):
    first_id, first_token = invite(app)
    second_id, second_token = invite(app)
    open_link(client, first_token)
    complete_section(client, "consent", {"consent_given": "yes", "escort_available": "no"})
    open_link(client, second_token)
    complete_section(client, "consent", {"consent_given": "yes", "escort_available": "yes"})
    assert load_intake(app, first_id).answers["escort_available"] is False
    assert load_intake(app, second_id).answers["escort_available"] is True
    # the first intake's page, posted after the second link was opened, is not saved into the second
    with app.app_context():
        intake = db.session.get(Intake, first_id)
        from screening.intake.views import sign_ref
        with app.test_request_context():
            first_ref = sign_ref(intake)
    controls = form_controls(page(client.get("/intake/section/consent")))
    response = client.post("/intake/section/consent", data={**controls, "_ref": first_ref, "consent_given": "yes",
                                                           "escort_available": "no", "_action": "next"})
    assert response.status_code == 200 and "belongs to a different questionnaire" in page(response)
    assert load_intake(app, second_id).answers["escort_available"] is True
    # a reference that was tampered with is not trusted either
    response = client.post("/intake/section/consent", data={**controls, "_ref": first_ref[:-2] + "xx",
                                                           "consent_given": "yes", "escort_available": "no",
                                                           "_action": "next"})
    assert response.status_code == 200 and "was not saved" in page(response)
    assert load_intake(app, second_id).answers["escort_available"] is True


@pytest.mark.parametrize("token", ["not-a-real-token", "x" * 200])
def test_an_unknown_link_says_so(app, client, token):
    invite(app)
    response = open_link(client, token)
    assert response.status_code == 404 and "This link does not work" in page(response)
    assert "Test Clinic" in page(response)


def test_a_revoked_link_shows_a_clear_page_and_no_data(app, client):
    intake_id, token = invite(app)
    open_link(client, token)
    complete_section(client, "consent", GOOD_PAGES[0][1])
    complete_section(client, "about_you", GOOD_PAGES[1][1])
    with app.app_context():
        revoke(db.session.get(Intake, intake_id))
        db.session.commit()
    response = client.get("/intake/section/about_you")  # a session already open
    assert response.status_code == 410 and "no longer active" in page(response)
    assert "1980" not in page(response)
    assert location(client.get("/intake/section/about_you")) == ""
    assert "Please open the link" in page(client.get("/intake/section/about_you"))  # session forgotten
    response = open_link(app.test_client(), token)
    assert response.status_code == 410 and "no longer active" in page(response) and "1980" not in page(response)


def test_an_expired_link_says_so_keeps_the_answers_and_opens_no_session(app, client):
    intake_id, token = invite(app)
    open_link(client, token)
    complete_section(client, "consent", GOOD_PAGES[0][1])
    with app.app_context():
        intake = db.session.get(Intake, intake_id)
        intake.link_expires_at = utcnow() - datetime.timedelta(minutes=1)
        db.session.commit()
    fresh = app.test_client()
    response = open_link(fresh, token)
    assert response.status_code == 410 and "This link has expired" in page(response)
    assert "ask for a new link" in page(response) and "Test Clinic" in page(response)
    with fresh.session_transaction() as session:
        assert "intake_id" not in session
    assert load_intake(app, intake_id).answers["consent_given"] is True
    with app.app_context():
        events = db.session.query(AuditEvent).filter_by(action="intake.link_expired").all()
        assert [e.target for e in events] == [f"intake:{intake_id}"]


def test_pages_without_an_intake_in_the_session_explain_how_to_get_in(app, client):
    for url in ("/intake", "/intake/section/consent", "/intake/review", "/intake/support", "/intake/done"):
        response = client.get(url)
        assert response.status_code == 200 and "open the link your clinic sent you" in page(response), url


def test_a_page_posted_after_the_session_ended_is_kept_on_screen(app, client):
    intake_id, token = invite(app)
    open_link(client, token)
    complete_section(client, "consent", GOOD_PAGES[0][1])
    text = page(client.get("/intake/section/about_you"))
    controls = form_controls(text)
    typed = {"date_of_birth": "1980-07-31", "sex_at_birth": "intersex", "height_cm": "170", "weight_kg": "70"}

    # The browser was closed: no session cookie at all, only the page as it was.
    stranger = app.test_client()
    response = stranger.post("/intake/section/about_you", data={**controls, **typed, "_action": "next"})
    text = page(response)
    assert response.status_code == 200
    assert "Your session has ended, so this page is not saved yet. What you typed is still here." in text
    assert 'value="1980-07-31"' in text and re.search(r'value="intersex" checked', text)
    assert 'value="170"' in text and 'value="70"' in text
    assert "Section " not in text  # nothing about the stored intake is shown
    assert "sex_at_birth" not in load_intake(app, intake_id).answers

    # Opening the link again (say, in another tab) and pressing Next on this page saves it.
    open_link(stranger, token)
    response = stranger.post("/intake/section/about_you",
                             data={**form_controls(text), **typed, "_action": "next"})
    assert location(response) == "/intake/section/depression_history"
    assert load_intake(app, intake_id).answers["sex_at_birth"] == "intersex"


def test_without_a_page_reference_the_patient_is_told_to_reopen_the_link(app, client):
    invite(app)
    response = client.post("/intake/section/about_you", data={"sex_at_birth": "male", "_action": "next"})
    assert response.status_code == 200 and "open the link your clinic sent you" in page(response)


def test_an_idle_session_ends_and_nothing_typed_is_lost(app, client, monkeypatch):
    intake_id, token = invite(app)
    open_link(client, token)
    complete_section(client, "consent", GOOD_PAGES[0][1])
    controls = form_controls(page(client.get("/intake/section/about_you")))
    later = time.time() + 61 * 60  # INTAKE_IDLE_MINUTES is 60
    monkeypatch.setattr("screening.intake.views.time.time", lambda: later)
    response = client.post("/intake/section/about_you",
                           data={**controls, "sex_at_birth": "female", "_action": "next"})
    assert response.status_code == 200 and "Your session has ended" in page(response)
    assert re.search(r'value="female" checked', page(response))
    assert "open the link your clinic sent you" in page(client.get("/intake/section/consent"))
    assert "sex_at_birth" not in load_intake(app, intake_id).answers


def test_an_expired_csrf_token_shows_the_page_again_with_the_answers_kept(app, client, monkeypatch):
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    intake_id, token = invite(app)
    open_link(client, token)
    controls = form_controls(page(client.get("/intake/section/consent")))
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) + 7200)  # two hours on
    data = {**controls, "consent_given": "yes", "escort_available": "no", "_action": "next"}
    response = client.post("/intake/section/consent", data=data)
    text = page(response)
    assert response.status_code == 200
    assert CSRF_MESSAGE in text
    assert re.search(r'name="consent_given" value="yes" checked', text)
    assert re.search(r'name="escort_available" value="no" checked', text)
    assert error_summary(text) == []
    assert load_intake(app, intake_id).answers == {}
    # pressing Next again (with the fresh token on the page shown) saves
    response = client.post("/intake/section/consent", data={**data, **form_controls(text)})
    assert location(response) == "/intake/section/about_you"
    assert load_intake(app, intake_id).answers == {"consent_given": True, "escort_available": False}


def test_a_missing_csrf_token_never_gives_a_bare_400(app, client):
    intake_id, token = invite(app)
    open_link(client, token)
    controls = form_controls(page(client.get("/intake/section/consent")))
    controls["csrf_token"] = ""
    response = client.post("/intake/section/consent", data={**controls, "consent_given": "yes", "_action": "next"})
    assert response.status_code == 200 and CSRF_MESSAGE in page(response)
    assert load_intake(app, intake_id).answers == {}

    complete_intake(client, submit=False)
    response = client.post("/intake/review", data={"csrf_token": "wrong"})
    assert response.status_code == 200 and "could not send your answers yet" in page(response)
    assert load_intake(app, intake_id).state == "in_progress"


def test_a_global_csrf_check_is_handled_the_same_way(app, client):
    """If the app later turns on CSRFProtect, its CSRFError still keeps the page."""
    from flask_wtf.csrf import CSRFProtect
    CSRFProtect(app)
    intake_id, token = invite(app)
    open_link(client, token)
    controls = form_controls(page(client.get("/intake/section/consent")))
    controls["csrf_token"] = "expired"
    response = client.post("/intake/section/consent", data={**controls, "consent_given": "yes", "_action": "next"})
    assert response.status_code == 200 and CSRF_MESSAGE in page(response)
    assert re.search(r'name="consent_given" value="yes" checked', page(response))
    response = client.post("/intake/section/consent",
                           data={**form_controls(page(response)), "consent_given": "yes", "_action": "next"})
    assert location(response) == "/intake/section/about_you"


def test_live_visibility_uses_the_server_rules(app, client):
    intake_id, token = invite(app)
    open_link(client, token)
    complete_section(client, "consent", GOOD_PAGES[0][1])
    complete_section(client, "about_you", GOOD_PAGES[1][1])
    text = page(client.get("/intake/section/depression_history"))
    assert 'data-live-triggers="dep_diagnosed"' in text
    controls = form_controls(text)
    url = "/intake/section/depression_history/visibility"
    yes = client.post(url, data={**controls, "dep_diagnosed": "yes"}).get_json()
    no = client.post(url, data={**controls, "dep_diagnosed": "no"}).get_json()
    assert yes == {"hidden": []}
    assert no["hidden"] == ["dep_episode_months", "ad_trials", "ect_history", "tms_history",
                            "prior_ketamine_treatment", "psych_hospitalizations"]
    assert "dep_diagnosed" not in load_intake(app, intake_id).answers  # asking is not saving
    assert client.post(url, data={**controls, "csrf_token": "x", "dep_diagnosed": "yes"}).status_code == 400
    # without a session there is no CSRF token either: refused before anything is looked up
    assert app.test_client().post(url, data={"dep_diagnosed": "yes"}).status_code == 400


def test_cli_creates_an_invitation_and_prints_its_link(app):
    app.config["BASE_URL"] = "https://intake.example.org/"
    result = app.test_cli_runner().invoke(args=["create-invitation", "--name", "Ada Lovelace", "--dob",
                                                "1980-07-31", "--ref", "MRN-42"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert re.fullmatch(r"The link opens the questionnaire until \d{4}-\d\d-\d\d \d\d:\d\d UTC\.\n", result.stderr)
    match = re.fullmatch(r"https://intake\.example\.org/i/([A-Za-z0-9_-]{43,})", link)
    assert match, link  # 32 random bytes: 256 bits
    with app.app_context():
        intake = find_intake(match.group(1))
        assert intake.patient_name == "Ada Lovelace" and intake.clinic_ref == "MRN-42"
        assert intake.patient_dob.isoformat() == "1980-07-31"
        assert intake.token_hash != match.group(1)
    bad = app.test_cli_runner().invoke(args=["create-invitation", "--dob", "31/07/1980"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_public_start_page_only_when_enabled(app, client):
    assert client.get("/start").status_code == 404
    app.config["PUBLIC_START"] = True
    text = page(client.get("/start"))
    assert "Start the questions" in text
    response = client.post("/start", data={"csrf_token": hidden_value(text, "csrf_token")})
    assert location(response) == "/intake"
    first = page(client.get(location(client.get("/intake"))))
    link = re.search(r'<p class="link-text">(http://localhost/i/[A-Za-z0-9_-]+)</p>', first).group(1)
    assert "Your personal link" in first
    assert "Your personal link" not in page(client.get("/intake/section/consent"))  # shown once
    with app.app_context():
        intake = find_intake(link.rsplit("/", 1)[1])
        assert intake.state == "in_progress"
    assert client.post("/start", data={"csrf_token": "nope"}).status_code == 200  # asked again, not created
    with app.app_context():
        assert db.session.query(Intake).count() == 1


def test_link_tokens_are_kept_out_of_request_logs():
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - [%s] "%s" %s %s',
                               ("127.0.0.1", "now", "GET /i/SECRETtoken_123-abc HTTP/1.1", "303", "-"), None)
    assert RedactLinkTokens().filter(record) is True
    assert "SECRET" not in record.getMessage() and "/i/[token]" in record.getMessage()
    assert logging.getLogger("werkzeug").filters  # installed by init_app


def test_patient_pages_are_not_cached_or_indexed(app, client):
    _, token = invite(app)
    open_link(client, token)
    response = client.get("/intake/section/consent")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    text = page(response)
    assert re.findall(r'(?:src|href)="(https?:)?//', text) == []  # nothing from other sites
    assert '<script src="/static/intake.js" defer></script>' in text
    assert "<script>" not in text  # no inline script (a strict CSP comes later)
