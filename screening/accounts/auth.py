"""Staff authentication: password hashing, server-side sessions, Flask-Login wiring and roles.

The Flask session cookie holds only a random session token (Flask-Login's "alternative id");
the server keeps its SHA-256 in ``staff_session``. Every request checks that row, so sign-out,
the idle limit, the absolute limit and disabling an account take effect on the server.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
from functools import wraps
from typing import Callable

from flask import abort, current_app, g, session
from flask_login import UserMixin, current_user, login_user, logout_user
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from ..db import db
from ..models import ROLES, User, utcnow
from .models import SetupToken, StaffSession

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # a KDF over megabytes of input is a denial of service
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
SETUP_TOKEN_HOURS = 24
STAFF_ROLES = ("clinician", "admin")


class AccountError(ValueError):
    """A reason an account cannot be created or changed, fit to show to the person doing it."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- passwords ---------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


_dummy_hashes: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash to check against when the email is unknown, so both cases take the same time."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _dummy_hashes[method]


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def password_problem(password: str, email: str | None = None) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if not password.strip():
        return "The password cannot be only spaces."
    if email and password.strip().lower() == normalize_email(email):
        return "The password cannot be the email address."
    return None


def create_user(email: str, password: str | None, role: str) -> User:
    """Add a user (the caller commits). Raises AccountError with a reason to show.

    Without a password (an invited user) the account has no usable password until its invitation link
    sets one: ``password_hash`` stays empty and no password matches it."""
    email = normalize_email(email)
    if not EMAIL_RE.match(email) or len(email) > 255:
        raise AccountError("Enter a valid email address.")
    if role not in ROLES:
        raise AccountError(f"The role must be one of: {', '.join(ROLES)}.")
    problem = password_problem(password, email) if password is not None else None
    if problem:
        raise AccountError(problem)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError("An account with this email address already exists.")
    user = User(email=email, password_hash=hash_password(password) if password is not None else "", role=role,
                active=True, created_at=utcnow())
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> tuple[User | None, User | None]:
    """(the user if the credentials are right and the account active, the account the email names)."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None or not user.password_hash:
        check_password_hash(_dummy_hash(), password)  # as long as a real check: no hint the email exists
        return None, user
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None, user
    return user, user


def verify_password(user: User, password: str) -> bool:
    """The password of a signed-in user, asked again before a change to the account."""
    if not user.password_hash or len(password or "") > MAX_PASSWORD_LENGTH:
        return False
    return check_password_hash(user.password_hash, password)


def user_count() -> int:
    return db.session.scalar(select(func.count(User.id))) or 0


# -- sessions ----------------------------------------------------------------------------------

class StaffUser(UserMixin):
    """The signed-in user of one request: the User row and the server session it came with."""

    def __init__(self, user: User, staff_session: StaffSession, token: str):
        self.user = user
        self.staff_session = staff_session
        self._token = token

    def get_id(self) -> str:
        return self._token

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"

    @property
    def is_active(self) -> bool:
        return bool(self.user.active)

    @property
    def actor(self) -> str:
        return f"user:{self.user.id}"

    @property
    def two_factor_enabled(self) -> bool:
        if not hasattr(self, "_two_factor"):
            from .two_factor import is_enrolled

            self._two_factor = is_enrolled(self.user.id)
        return self._two_factor


def idle_limit() -> datetime.timedelta:
    return datetime.timedelta(minutes=float(current_app.config["SESSION_IDLE_MINUTES"]))


def absolute_limit() -> datetime.timedelta:
    return datetime.timedelta(hours=float(current_app.config["SESSION_MAX_HOURS"]))


def start_session(user: User) -> StaffUser:
    """Sign in: a new Flask session and a new server session (nothing carries over from before)."""
    old = session.get("_user_id")
    if old:
        end_session_by_token(old, "replaced")
    session.clear()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = StaffSession(token_hash=token_hash(token), user_id=user.id, created_at=now, last_seen_at=now)
    db.session.add(row)
    db.session.flush()
    staff_user = StaffUser(user, row, token)
    login_user(staff_user, remember=False)
    return staff_user


def end_session_by_token(token: str, reason: str) -> None:
    row = db.session.scalar(select(StaffSession).where(StaffSession.token_hash == token_hash(token)))
    if row is not None and row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), reason


def sign_out() -> None:
    """End the current session on the server and in the browser (the caller commits)."""
    token = session.get("_user_id")
    if token:
        end_session_by_token(token, "signed_out")
    logout_user()
    session.clear()


def end_all_sessions(user_id: int, reason: str, keep: int | None = None) -> int:
    """End every open session of a user (password change, account disabled), but the session ``keep``
    (an id) if given. The caller commits."""
    query = (update(StaffSession).where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
             .values(ended_at=utcnow(), end_reason=reason))
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    result = db.session.execute(query)
    return result.rowcount or 0


def load_user(token: str) -> StaffUser | None:
    """Flask-Login's user loader: the session must exist, be open, recent enough and its user active."""
    if not token or len(token) > 128:
        return None
    row = db.session.scalar(select(StaffSession).where(StaffSession.token_hash == token_hash(token)))
    if row is None or row.ended_at is not None:
        return None
    now = utcnow()
    reason = None
    if now - row.last_seen_at > idle_limit():
        reason = "idle"
    elif now - row.created_at > absolute_limit():
        reason = "expired"
    user = db.session.get(User, row.user_id)
    if reason is None and (user is None or not user.active):
        reason = "disabled"
    if reason is not None:
        from .. import audit

        row.ended_at, row.end_reason = now, reason
        audit.record("system", "account.session_ended", f"user:{row.user_id}", reason=reason)
        db.session.commit()
        g.session_end_reason = reason
        return None
    # Record activity, at most every so often, so the idle limit counts from the last request.
    if now - row.last_seen_at > min(datetime.timedelta(seconds=60), idle_limit() / 10):
        row.last_seen_at = now
        db.session.commit()
    return StaffUser(user, row, token)


# -- roles -------------------------------------------------------------------------------------

def role_required(*roles: str) -> Callable:
    """Signed-in users with one of ``roles`` only: others are sent to sign in, or get 403."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown role(s): {sorted(unknown)}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        wrapped.required_roles = roles
        return wrapped
    return decorator


staff_required = role_required(*STAFF_ROLES)


# -- first admin -------------------------------------------------------------------------------

def issue_setup_token() -> str | None:
    """A one-time first-admin link token if there are no users yet, else None. The caller commits."""
    if user_count():
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(SetupToken(token_hash=token_hash(token), created_at=now,
                              expires_at=now + datetime.timedelta(hours=SETUP_TOKEN_HOURS)))
    db.session.flush()
    return token


def valid_setup_token(token: str) -> SetupToken | None:
    """The setup token if it is known, unused and unexpired, and there is still no user."""
    if not token or len(token) > 128 or user_count():
        return None
    row = db.session.scalar(select(SetupToken).where(SetupToken.token_hash == token_hash(token)))
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        return None
    return row
