"""Server-side staff sessions and one-time setup tokens (tables of the accounts package)."""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey, String
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
