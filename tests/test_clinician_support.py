"""Helpers and fixtures shared by the accounts, clinician and report tests (no tests here).

The shared conftest.py belongs to the whole project; these fixtures build on its ``app``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from screening.accounts import auth
from screening.db import db
from screening.invitations import create_invitation
from screening.submissions import submit_intake

CASES = Path(__file__).parent / "cases"
PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def case_answers(name: str) -> dict:
    return json.loads((CASES / name).read_text(encoding="utf-8"))["answers"]


@pytest.fixture
def staff_app(app):
    """The app with a cheap scrypt cost (tests only) and no PDF rendering at submission."""
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:1024:8:1"
    app.config["REPORT_RENDER_ON_SUBMIT"] = False
    return app


def make_user(app, email="clin@example.org", role="clinician", password=PASSWORD, active=True):
    with app.app_context():
        user = auth.create_user(email, password, role)
        user.active = active
        db.session.commit()
        return user.id


def make_submission(app, answers: dict, name="Pat Example", dob=None, ref="MRN-1", submitted_at=None,
                    language=None) -> int:
    with app.app_context():
        intake, _ = create_invitation(name, dob, ref)
        intake.answers = dict(answers)
        intake.language = language
        intake.state = "in_progress"
        db.session.commit()
        submission = submit_intake(intake)
        if submitted_at is not None:
            submission.submitted_at = submitted_at
            db.session.commit()
        return submission.id


def csrf_from(client, path: str) -> str:
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


def sign_in(client, email="clin@example.org", password=PASSWORD, next_path=None):
    signed_in = client.get("/sign-in").status_code == 302  # already signed in: sign-in again from a staff page
    token = csrf_from(client, "/staff/" if signed_in else "/sign-in")
    data = {"csrf_token": token, "email": email, "password": password}
    if next_path:
        data["next"] = next_path
    return client.post("/sign-in", data=data)


def sign_out(client):
    token = csrf_from(client, "/staff/")
    return client.post("/sign-out", data={"csrf_token": token})


@pytest.fixture
def clinician(staff_app):
    return make_user(staff_app)


@pytest.fixture
def clinician_client(staff_app, clinician):
    client = staff_app.test_client()
    response = sign_in(client)
    assert response.status_code == 302
    return client
