"""The API's table: one token per EHR integration."""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ..models import utcnow


class ApiToken(db.Model):
    """An integration's key to ``/api/v1``. Only the SHA-256 of the secret is stored; the secret itself
    is shown once, when an admin creates the token. A revoked token is kept (the audit log names it)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime.datetime | None]
    revoked_at: Mapped[datetime.datetime | None]

    @property
    def active(self) -> bool:
        return self.revoked_at is None
