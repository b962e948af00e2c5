"""Helpers for the account tests (tests/test_accounts_*.py; no tests here): enrolling an authenticator the
way a person does (reading the key off the enrolment page) and computing its codes with pyotp."""

from __future__ import annotations

import html
import re

import pyotp
from sqlalchemy import select

from screening.accounts import two_factor
from screening.db import db
from screening.models import AuditEvent
from test_clinician_support import csrf_from, sign_in

SECRET_RE = re.compile(r'<span class="secret" id="secret">([A-Z2-7 ]+)</span>')
CODE_RE = re.compile(r'<span class="mono">([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</span>')
T0 = 1_790_000_010  # a fixed clock, 10 s into a 30-second step


class FixedClock:
    """The server's TOTP clock, set by the test: ``clock.now`` seconds since the epoch."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def fixed_clock(monkeypatch) -> FixedClock:
    clock = FixedClock()
    monkeypatch.setattr(two_factor, "clock", clock)
    return clock


def code_at(secret: str, moment: float) -> str:
    return pyotp.TOTP(secret).at(moment)


def start_enrolment(client):
    """Press "Show the QR code" on the enrolment page: the page with the new key."""
    token = csrf_from(client, "/staff/account/two-factor")
    started = client.post("/staff/account/two-factor", data={"csrf_token": token, "start": "1"})
    assert started.status_code == 303 and started.headers["Location"] == "/staff/account/two-factor"
    return client.get("/staff/account/two-factor")


def enrol(client, clock: FixedClock) -> tuple[str, list[str]]:
    """Set up two-factor for the signed-in user of ``client``: (the key from the page, the recovery codes)."""
    page = start_enrolment(client)
    assert page.status_code == 200, page.status_code
    text = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in text  # the QR code is drawn by the app itself
    secret = SECRET_RE.search(text).group(1).replace(" ", "")
    token = csrf_from(client, "/staff/account/two-factor")
    done = client.post("/staff/account/two-factor", data={"csrf_token": token, "code": code_at(secret, clock.now)})
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = CODE_RE.findall(done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def enter_code(client, code: str, recovery: bool = False):
    path = "/sign-in/code" + ("?method=recovery" if recovery else "")
    token = csrf_from(client, path)
    data = {"csrf_token": token, "code": code}
    if recovery:
        data["method"] = "recovery"
    return client.post("/sign-in/code", data=data)


def sign_in_with_code(client, email: str, code: str, recovery: bool = False):
    first = sign_in(client, email=email)
    assert first.status_code == 302 and first.headers["Location"] == "/sign-in/code", first.headers.get("Location")
    return enter_code(client, code, recovery)


def audit_events(app, action: str | None = None) -> list[tuple]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return [(e.actor, e.action, e.target, e.detail) for e in db.session.scalars(query)]


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))
