"""Two-factor sign-in: an authenticator app (TOTP, RFC 6238, via pyotp) and one-time recovery codes.

Everything that must hold across app processes lives in the database: the newest accepted time step
(a code is never accepted twice) and the count of wrong codes per account. The QR code for enrolment is
drawn here (segno, as SVG) and shown as a ``data:`` image: the secret never leaves the app.
"""

from __future__ import annotations

import base64
import datetime
import enum
import hashlib
import hmac
import re
import secrets
import time

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, func, or_, select, update

from ..db import db
from ..models import utcnow
from .models import RecoveryCode, TwoFactor

DRIFT_STEPS = 1  # a code of the step before or after is accepted too (phone clocks drift)
RECOVERY_CODE_COUNT = 10
TOTP_RE = re.compile(r"^[0-9]{6}$")
RECOVERY_RE = re.compile(r"^[a-z2-7]{16}$")

clock = time.time  # seconds since the epoch; tests fix it


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    LOCKED = "locked"  # too many wrong codes lately: nothing is checked


# -- the authenticator app ---------------------------------------------------------------------

def record_for(user_id: int) -> TwoFactor | None:
    return db.session.scalar(select(TwoFactor).where(TwoFactor.user_id == user_id))


def is_enrolled(user_id: int) -> bool:
    return db.session.scalar(select(TwoFactor.id).where(TwoFactor.user_id == user_id,
                                                         TwoFactor.confirmed_at.is_not(None))) is not None


def pending_enrolment(user_id: int) -> TwoFactor:
    """The user's unconfirmed secret, made if there is none (the caller commits). Reloading the page
    keeps the secret, so a QR code already scanned stays right."""
    row = record_for(user_id)
    if row is None:
        row = TwoFactor(user_id=user_id, secret=pyotp.random_base32(), created_at=utcnow(), failures=0)
        db.session.add(row)
        db.session.flush()
    return row


def provisioning_uri(row: TwoFactor, email: str) -> str:
    return pyotp.TOTP(row.secret).provisioning_uri(name=email, issuer_name=current_app.config["CLINIC_NAME"])


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URL (allowed by the CSP's ``img-src data:``)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4, dark="#000", light="#fff")


def grouped_secret(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (within the allowed drift) whose code is ``code``, or None."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):  # compare every step: no timing hint
            found = step
    return found


def accept_totp(row: TwoFactor, code: str) -> bool:
    """True once per time step: the code must match, and be of a later step than any accepted before.
    The conditional update makes that hold when two processes see the same code at once."""
    code = re.sub(r"\s", "", code or "")
    if not TOTP_RE.match(code):
        return False
    step = matching_step(row.secret, code, clock())
    if step is None:
        return False
    result = db.session.execute(update(TwoFactor)
                                .where(TwoFactor.id == row.id,
                                       or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < step))
                                .values(last_step=step))
    return result.rowcount == 1


def confirm_enrolment(row: TwoFactor, code: str) -> bool:
    """Turn the pending secret on if ``code`` is right (the caller commits)."""
    if not accept_totp(row, code):
        return False
    row.confirmed_at = utcnow()
    return True


def remove(user_id: int) -> None:
    """Turn two-factor off for a user: the secret and every recovery code go (the caller commits)."""
    db.session.execute(delete(TwoFactor).where(TwoFactor.user_id == user_id))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


# -- wrong codes -------------------------------------------------------------------------------

def _window() -> datetime.timedelta:
    return datetime.timedelta(minutes=float(current_app.config["TWO_FACTOR_LOCK_MINUTES"]))


def is_locked(row: TwoFactor) -> bool:
    db.session.refresh(row, ["failures", "failures_since"])
    return (row.failures >= int(current_app.config["TWO_FACTOR_MAX_FAILURES"])
            and row.failures_since is not None and utcnow() - row.failures_since < _window())


def note_failure(row: TwoFactor) -> None:
    """Count a wrong code: a new window starts once the last one has passed."""
    now = utcnow()
    restarted = db.session.execute(update(TwoFactor)
                                   .where(TwoFactor.id == row.id,
                                          or_(TwoFactor.failures_since.is_(None),
                                              TwoFactor.failures_since <= now - _window()))
                                   .values(failures=1, failures_since=now))
    if restarted.rowcount == 0:
        db.session.execute(update(TwoFactor).where(TwoFactor.id == row.id)
                           .values(failures=TwoFactor.failures + 1))


def clear_failures(row: TwoFactor) -> None:
    db.session.execute(update(TwoFactor).where(TwoFactor.id == row.id).values(failures=0, failures_since=None))


def check_sign_in_code(user_id: int, code: str, recovery: bool) -> Outcome:
    """Check a second factor at sign-in: a code from the app, or (``recovery``) a recovery code.
    The caller commits (a wrong code is counted even then)."""
    row = record_for(user_id)
    if row is None or row.confirmed_at is None:
        return Outcome.WRONG
    if is_locked(row):
        return Outcome.LOCKED
    accepted = use_recovery_code(user_id, code) if recovery else accept_totp(row, code)
    if not accepted:
        note_failure(row)
        return Outcome.LOCKED if is_locked(row) else Outcome.WRONG
    clear_failures(row)
    return Outcome.ACCEPTED


# -- recovery codes ----------------------------------------------------------------------------

def _normalize_recovery(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def issue_recovery_codes(user_id: int) -> list[str]:
    """Ten new codes (80 random bits each, shown as four groups of four), replacing any before them.
    Only their SHA-256 is stored; the caller shows them once and commits."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    now = utcnow()
    for _ in range(RECOVERY_CODE_COUNT):
        code = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
        db.session.add(RecoveryCode(user_id=user_id, code_hash=_recovery_hash(code), created_at=now))
        codes.append("-".join(code[i:i + 4] for i in range(0, 16, 4)))
    db.session.flush()
    return codes


def use_recovery_code(user_id: int, code: str) -> bool:
    """True if ``code`` is one of the user's unused codes; it is used up at once (in any process)."""
    code = _normalize_recovery(code)
    if not RECOVERY_RE.match(code):
        return False
    result = db.session.execute(update(RecoveryCode)
                                .where(RecoveryCode.user_id == user_id, RecoveryCode.code_hash == _recovery_hash(code),
                                       RecoveryCode.used_at.is_(None))
                                .values(used_at=utcnow()))
    return result.rowcount == 1


def recovery_codes_left(user_id: int) -> int:
    return db.session.scalar(select(func.count(RecoveryCode.id)).where(RecoveryCode.user_id == user_id,
                                                                       RecoveryCode.used_at.is_(None))) or 0
