"""Intake invitations: unguessable link tokens (256 bits), stored only as their SHA-256."""

from __future__ import annotations

import datetime
import hashlib
import secrets

from flask import current_app
from sqlalchemy import select

from .content import current_question_set_version, current_rule_set_version
from .db import db
from .draft_flags import clear_draft_flags
from .models import Intake, utcnow


class NoPublishedContent(RuntimeError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link_expiry(now: datetime.datetime) -> datetime.datetime | None:
    """When a link made now stops opening the intake (``INTAKE_LINK_DAYS``; None or 0: never)."""
    days = current_app.config.get("INTAKE_LINK_DAYS")
    return now + datetime.timedelta(days=float(days)) if days else None


def link_expired(intake: Intake, now: datetime.datetime | None = None) -> bool:
    """True once an open intake's link no longer opens it (a new link from the clinic renews it)."""
    return intake.link_expires_at is not None and intake.link_expires_at <= (now or utcnow())


def create_invitation(patient_name: str | None = None, patient_dob: datetime.date | None = None,
                      clinic_ref: str | None = None, created_by: int | None = None,
                      question_set_id: str | None = None) -> tuple[Intake, str]:
    """A new intake pinned to the current published versions, and its token (shown once, never stored)."""
    set_id = question_set_id or current_app.config["DEFAULT_QUESTION_SET"]
    qs_row = current_question_set_version(set_id)
    rs_row = current_rule_set_version(set_id)
    if qs_row is None or rs_row is None:
        raise NoPublishedContent(f"no published question set and rule set for '{set_id}'")
    token, now = secrets.token_urlsafe(32), utcnow()
    intake = Intake(token_hash=hash_token(token), patient_name=patient_name, patient_dob=patient_dob,
                    clinic_ref=clinic_ref, created_by=created_by, question_set_version_id=qs_row.id,
                    rule_set_version_id=rs_row.id, answers={}, created_at=now, link_expires_at=link_expiry(now))
    db.session.add(intake)
    db.session.flush()
    return intake, token


def replace_link(intake: Intake) -> str:
    """A new link for an open intake, valid for the full period again; the old link stops working."""
    token = secrets.token_urlsafe(32)
    intake.token_hash = hash_token(token)
    intake.link_expires_at = link_expiry(utcnow())
    return token


def find_intake(token: str) -> Intake | None:
    if not token or len(token) > 128:
        return None
    return db.session.scalar(select(Intake).where(Intake.token_hash == hash_token(token)))


def revoke(intake: Intake) -> None:
    if intake.state in ("not_started", "in_progress"):
        intake.state = "revoked"
        intake.revoked_at = utcnow()
        clear_draft_flags(intake)  # nobody can send it now: it leaves the work list's alert
