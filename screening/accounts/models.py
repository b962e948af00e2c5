"""Tables of the accounts package: server-side staff sessions, one-time setup tokens, two-factor
secrets and recovery codes, and invitation and reset links."""

from __future__ import annotations

import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ..models import utcnow


class StaffSession(db.Model):
    """One signed-in browser. The cookie holds a random token; only its SHA-256 is stored here.

    A session is valid while ``ended_at`` is empty, it has been used within the idle limit and it
    is younger than the absolute limit. Sign-out, idle time-out and disabling the account end it on
    the server, so a copied cookie stops working too.
    """

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(20))  # signed_out, idle, expired, disabled, replaced


class SetupToken(db.Model):
    """A one-time link for creating the first admin on a fresh install (stored hashed, single use)."""

    __tablename__ = "setup_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime.datetime]
    used_at: Mapped[datetime.datetime | None]


class TwoFactor(db.Model):
    """A user's authenticator app (TOTP, RFC 6238). ``confirmed_at`` is empty while enrolment waits for
    the first code; only a confirmed row asks for a code at sign-in.

    ``last_step`` is the newest 30-second time step a code was accepted for: a code is accepted only for
    a later step, so a seen code cannot be used again, in any app process. ``failures`` counts wrong
    codes since ``failures_since``; past the limit, codes are refused until the window has passed.
    """

    __tablename__ = "two_factor"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), unique=True)
    secret: Mapped[str] = mapped_column(String(64))  # base32, as the authenticator app holds it
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime.datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(default=0)
    failures_since: Mapped[datetime.datetime | None]


class RecoveryCode(db.Model):
    """One of a user's one-time recovery codes, stored as the SHA-256 of an 80-bit random code."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime.datetime | None]


LINK_PURPOSES = ("invite", "reset")


class AccountLink(db.Model):
    """A one-time link that sets a user's password: an invitation (new account) or a reset.

    Only the SHA-256 of the link's random token is stored. A link works once, before ``expires_at``;
    issuing a new one for the same user ends the ones before it.
    """

    __tablename__ = "account_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    expires_at: Mapped[datetime.datetime]
    used_at: Mapped[datetime.datetime | None]
