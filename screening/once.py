"""One form, one result: a create form (a new invitation, a new API token) carries a random nonce, and the
first POST that spends it is the only one that creates anything. A reload that resubmits the form ("resend
the data?") or a second click finds the nonce spent and gets a page saying so, never a second row and never
the secret again.

Spent nonces are rows of ``spent_form`` (the primary key makes two processes, or two concurrent requests,
agree on which one was first). The nonce is not a secret: it only names a form; the secret the form makes is
never stored anywhere. Rows older than ``KEEP`` are deleted as new ones are spent (a form that old has
outlived its staff session, so its CSRF token is refused anyway).
"""

from __future__ import annotations

import datetime
import re
import secrets

from sqlalchemy import String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .db import db
from .models import utcnow

KEEP = datetime.timedelta(days=2)
NONCE = re.compile(r"^[A-Za-z0-9_-]{22}$")


class SpentForm(db.Model):
    __tablename__ = "spent_form"

    nonce: Mapped[str] = mapped_column(String(22), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))  # "invitation", "api_token"
    target: Mapped[str | None] = mapped_column(String(64))  # what it created: "intake:12", "api_token:3"
    spent_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, index=True)


class AlreadySubmitted(Exception):
    """The form was submitted before; ``spent`` says what that submission created (target None: still
    being created by a request that has not finished)."""

    def __init__(self, spent: SpentForm | None):
        super().__init__("form already submitted")
        self.spent = spent


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def spend(nonce: str | None, purpose: str) -> SpentForm | None:
    """Mark the form's nonce spent, in the caller's transaction (so a rolled-back creation leaves it unspent);
    set ``target`` on the returned row once the thing exists. Raises AlreadySubmitted if it was spent (the
    session is rolled back first, so call this before changing anything). A form without a nonce (a script,
    not one of our pages) returns None and is not checked."""
    if not nonce:
        return None
    if not NONCE.match(nonce):
        raise AlreadySubmitted(None)
    found = db.session.get(SpentForm, nonce)
    if found is not None:
        raise AlreadySubmitted(found if found.purpose == purpose else None)
    row = SpentForm(nonce=nonce, purpose=purpose, spent_at=utcnow())
    db.session.add(row)
    try:
        db.session.flush()  # waits for a concurrent request with the same nonce, then fails if it committed
    except IntegrityError:
        db.session.rollback()
        raise AlreadySubmitted(db.session.get(SpentForm, nonce)) from None
    db.session.execute(delete(SpentForm).where(SpentForm.spent_at < utcnow() - KEEP))
    return row
