"""Creating, finding and revoking API tokens. A token is ``scr_`` + 43 URL-safe characters (256 random
bits); the database holds only its SHA-256, so a copy of the database gives no access."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from .. import audit
from ..db import db
from ..models import utcnow
from .models import ApiToken

PREFIX = "scr_"
MAX_TOKEN_LENGTH = 200


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(name: str, user_id: int | None) -> tuple[ApiToken, str]:
    """A new token and its secret (shown once, never stored)."""
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=token_hash(secret), created_by=user_id, created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    audit.record(f"user:{user_id}" if user_id else "system", "api_token.created", f"api_token:{row.id}", name=name)
    db.session.commit()
    return row, secret


def active_token(secret: str) -> ApiToken | None:
    if not secret.startswith(PREFIX) or len(secret) > MAX_TOKEN_LENGTH:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    return row if row is not None and row.active else None


def revoke_token(token_id: int, user_id: int | None) -> ApiToken | None:
    row = db.session.get(ApiToken, token_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(f"user:{user_id}" if user_id else "system", "api_token.revoked", f"api_token:{row.id}")
        db.session.commit()
    return row


def all_tokens() -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())))
