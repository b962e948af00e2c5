"""Hardening that applies to every response: headers, app-wide CSRF, rate limits, error pages."""

from __future__ import annotations

import logging

import pytest

from screening.security import CONTENT_SECURITY_POLICY
from test_clinician_support import clinician, csrf_from, sign_in, staff_app  # noqa: F401


@pytest.mark.parametrize("path", ["/", "/sign-in", "/i/not-a-real-token", "/staff/", "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    headers = response.headers
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "object-src 'none'" in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client):
    response = client.get("/static/site.css")
    assert response.status_code == 200 and response.headers.get("Cache-Control") != "no-store"


def test_session_cookie_flags(app, client):
    client.get("/sign-in")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is False  # BASE_URL is http in development


def test_session_cookie_is_secure_when_served_over_https(tmp_path):
    from screening import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path), "BASE_URL": "https://intake.example.org"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_a_post_without_csrf_token_changes_nothing(client):
    response = client.post("/sign-in", data={"email": "a@example.org", "password": "x" * 12})
    assert response.status_code == 400
    assert "This page had expired" in response.get_data(as_text=True)


def test_not_found_page_reveals_nothing(client):
    response = client.get("/staff/submissions/999999999/../../etc/passwd")
    text = response.get_data(as_text=True)
    assert response.status_code == 404 and "Page not found" in text
    assert "Traceback" not in text and "werkzeug" not in text.lower()


def test_error_pages_speak_to_staff_as_staff_and_to_patients_as_patients(staff_app, clinician):
    client = staff_app.test_client()
    sign_in(client)
    staff = client.get("/staff/submissions/999999").get_data(as_text=True)
    assert "Page not found" in staff and "work list" in staff
    assert "link you were sent" not in staff and "555-0100" not in staff
    forbidden = client.get("/admin/").get_data(as_text=True)
    assert "An admin can change your role" in forbidden and "555-0100" not in forbidden
    patient = staff_app.test_client().get("/intake/nowhere").get_data(as_text=True)
    assert "link you were sent" in patient and "call Test Clinic at 555-0100" in patient


def test_server_error_page_reveals_nothing_and_logs_no_request_data(app, caplog):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret patient detail")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/boom?name=Jane")
    text = response.get_data(as_text=True)
    assert response.status_code == 500 and "Something went wrong" in text
    assert "secret patient detail" not in text and "Jane" not in text
    assert "RuntimeError" in caplog.text and "secret patient detail" not in caplog.text and "Jane" not in caplog.text


def failed_sign_in(client, email):
    token = csrf_from(client, "/sign-in")
    return client.post("/sign-in", data={"csrf_token": token, "email": email, "password": "wrong password!"})


def test_sign_in_is_rate_limited_per_account_with_a_generic_error(staff_app, clinician):
    staff_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    clients = [staff_app.test_client() for _ in range(4)]  # as if from different browsers
    statuses = [failed_sign_in(c, "clin@example.org").status_code for c in clients]
    assert statuses == [400, 400, 400, 429]
    blocked = sign_in(staff_app.test_client())  # even the right password waits now
    assert blocked.status_code == 429 and "Too many attempts" in blocked.get_data(as_text=True)
    assert failed_sign_in(staff_app.test_client(), "someone-else@example.org").status_code == 400


def test_sign_in_is_rate_limited_per_address(staff_app, clinician):
    staff_app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "3 per 15 minutes"
    client = staff_app.test_client()
    statuses = [failed_sign_in(client, f"user{n}@example.org").status_code for n in range(4)]
    assert statuses == [400, 400, 400, 429]


def test_a_successful_sign_in_does_not_count_against_the_limit(staff_app, clinician):
    staff_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"] = "2 per 15 minutes"
    for _ in range(4):
        client = staff_app.test_client()
        assert sign_in(client).status_code in (302, 303)


def test_guessing_patient_links_is_rate_limited(app):
    app.config["PATIENT_LINK_LIMIT_PER_ADDRESS"] = "5 per 10 minutes"
    client = app.test_client()
    statuses = [client.get(f"/i/guess-{n}").status_code for n in range(6)]
    assert statuses == [404] * 5 + [429]
