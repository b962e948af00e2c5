"""The append-only, hash-chained audit log. Events name who, what and when; never answers."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select, update

from .db import db
from .models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, event: AuditEvent) -> str:
    body = json.dumps({"prev": prev_hash, "at": event.at.isoformat(), "actor": event.actor,
                       "action": event.action, "target": event.target, "detail": event.detail},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def ensure_head() -> None:
    if db.session.get(AuditHead, 1) is None:
        last = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
        db.session.add(AuditHead(id=1, seq=0, last_hash=last or GENESIS))
        db.session.commit()


def record(actor: str, action: str, target: str | None = None, **detail: Any) -> AuditEvent:
    """Add an event to the session (the caller commits it with the change it describes).

    The head row is updated first: that takes the database's write lock (SQLite) or the row's
    lock (PostgreSQL) until commit, so two requests can never chain to the same previous event.
    """
    prev = db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
                              .returning(AuditHead.last_hash)).scalar_one()
    event = AuditEvent(at=utcnow(), actor=actor, action=action, target=target, detail=detail, prev_hash=prev)
    event.hash = _digest(prev, event)
    db.session.add(event)
    db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=event.hash))
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
    head = db.session.get(AuditHead, 1)
    if head is not None and head.last_hash != prev:
        problems.append("the newest event(s) were deleted: the log ends before the event the head records")
    return problems
