"""The append-only, hash-chained audit log. Events name who, what and when; never answers."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from .db import db
from .models import AuditEvent, utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, event: AuditEvent) -> str:
    body = json.dumps({"prev": prev_hash, "at": event.at.isoformat(), "actor": event.actor,
                       "action": event.action, "target": event.target, "detail": event.detail},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(actor: str, action: str, target: str | None = None, **detail: Any) -> AuditEvent:
    """Add an event to the session (the caller commits it with the change it describes)."""
    last = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    prev = last or GENESIS
    event = AuditEvent(at=utcnow(), actor=actor, action=action, target=target, detail=detail, prev_hash=prev)
    event.hash = _digest(prev, event)
    db.session.add(event)
    db.session.flush()
    return event


def verify() -> list[str]:
    """Problems in the chain (an edited, inserted or deleted row); empty when intact."""
    problems = []
    prev = GENESIS
    for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        if event.prev_hash != prev:
            problems.append(f"event {event.id}: does not follow the event before it (a row was deleted or inserted)")
        elif _digest(prev, event) != event.hash:
            problems.append(f"event {event.id}: its content was changed after it was written")
        prev = event.hash
    return problems
