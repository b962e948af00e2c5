"""One-time account links: an invitation to set the first password, or a password reset.

The link carries a 256-bit random token and nothing else (never a name or an email); only its SHA-256
is stored. A link works once and expires (``INVITE_LINK_HOURS``, ``RESET_LINK_HOURS``); a new link
for the same user ends the ones before it. Setting a password with a link ends every session of the user.
"""

from __future__ import annotations

import datetime
import secrets

from flask import current_app, has_request_context, url_for
from sqlalchemy import select, update

from ..db import db
from ..models import User, utcnow
from . import auth
from .models import AccountLink

ENDPOINTS = {"invite": "accounts.accept_invite", "reset": "accounts.reset_password"}


def lifetime(purpose: str) -> datetime.timedelta:
    key = "INVITE_LINK_HOURS" if purpose == "invite" else "RESET_LINK_HOURS"
    return datetime.timedelta(hours=float(current_app.config[key]))


def end_open_links(user_id: int) -> None:
    """Every unused link of the user stops working now (the caller commits)."""
    now = utcnow()
    db.session.execute(update(AccountLink)
                       .where(AccountLink.user_id == user_id, AccountLink.used_at.is_(None),
                              AccountLink.expires_at > now)
                       .values(expires_at=now))


def issue(user: User, purpose: str, created_by: int | None) -> tuple[str, AccountLink]:
    """A new link token for ``user`` (the caller commits); earlier unused links of the user stop working."""
    end_open_links(user.id)
    now = utcnow()
    token = secrets.token_urlsafe(32)
    row = AccountLink(token_hash=auth.token_hash(token), user_id=user.id, purpose=purpose, created_at=now,
                      created_by=created_by, expires_at=now + lifetime(purpose))
    db.session.add(row)
    db.session.flush()
    return token, row


def valid(token: str, purpose: str) -> AccountLink | None:
    """The link if it is known, of this purpose, unused, unexpired, and its account is not disabled."""
    if not token or len(token) > 128:
        return None
    row = db.session.scalar(select(AccountLink).where(AccountLink.token_hash == auth.token_hash(token)))
    if row is None or row.purpose != purpose or row.used_at is not None or row.expires_at <= utcnow():
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return row


def set_password(row: AccountLink, password: str) -> User:
    """Use the link: the new password, the link spent, every session of the user ended (the caller commits).
    Raises AccountError if the password is not acceptable (the link stays usable)."""
    user = db.session.get(User, row.user_id)
    problem = auth.password_problem(password, user.email)
    if problem:
        raise auth.AccountError(problem)
    spent = db.session.execute(update(AccountLink).where(AccountLink.id == row.id, AccountLink.used_at.is_(None))
                               .values(used_at=utcnow()))
    if spent.rowcount != 1:  # used a moment ago by another request
        raise auth.AccountError("This link has just been used. Ask your clinic's admin for a new one.")
    user.password_hash = auth.hash_password(password)
    auth.end_all_sessions(user.id, "password_reset")
    return user


def url(token: str, purpose: str) -> str:
    """The full address of the link: BASE_URL when the clinic set one, else the address in use."""
    if has_request_context():
        from ..clinician.views import public_base_url

        return public_base_url().rstrip("/") + url_for(ENDPOINTS[purpose], token=token)
    path = current_app.url_map.bind("localhost").build(ENDPOINTS[purpose], {"token": token})  # a command: no request
    return current_app.config["BASE_URL"].rstrip("/") + path
