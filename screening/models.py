"""Database models. Published question-set and rule-set versions are immutable rows."""

from __future__ import annotations

import datetime

from sqlalchemy import JSON, Double, ForeignKey, Index, LargeBinary, SmallInteger, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import db


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class QuestionSetVersion(db.Model):
    __tablename__ = "question_set_version"
    __table_args__ = (UniqueConstraint("set_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(4000))
    yaml_text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(255))


class RuleSetVersion(db.Model):
    __tablename__ = "rule_set_version"
    __table_args__ = (UniqueConstraint("set_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    applies_to: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(4000))
    yaml_text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(255))


INTAKE_STATES = ("not_started", "in_progress", "submitted", "revoked")
OPEN_STATES = ("not_started", "in_progress")


class Intake(db.Model):
    """An invitation and the patient's draft answers, pinned to the versions it began with.

    The link token itself is never stored, only its SHA-256 (``token_hash``).
    """

    __tablename__ = "intake"
    __table_args__ = (
        # The work list's alert: the few open intakes whose saved draft raises an urgent flag.
        Index("ix_intake_draft_urgent", "state", "draft_urgent_at", sqlite_where=text("draft_urgent_at IS NOT NULL"),
              postgresql_where=text("draft_urgent_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="not_started", index=True)
    patient_name: Mapped[str | None] = mapped_column(String(200))
    patient_dob: Mapped[datetime.date | None]
    clinic_ref: Mapped[str | None] = mapped_column(String(100))
    question_set_version_id: Mapped[int] = mapped_column(ForeignKey("question_set_version.id"))
    rule_set_version_id: Mapped[int] = mapped_column(ForeignKey("rule_set_version.id"))
    answers: Mapped[dict] = mapped_column(JSON, default=dict)  # draft answers, JSON encoding of the spec
    completed_sections: Mapped[list] = mapped_column(JSON, default=list)  # pages left with Next, all checks met
    language: Mapped[str | None] = mapped_column(String(8))  # the language the patient chose (None: English)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    started_at: Mapped[datetime.datetime | None]
    updated_at: Mapped[datetime.datetime | None]
    submitted_at: Mapped[datetime.datetime | None]
    revoked_at: Mapped[datetime.datetime | None]
    link_expires_at: Mapped[datetime.datetime | None]  # the link stops opening the intake then (None: never)
    # Urgent rules the saved, unsent draft raises (ids; None when none) and since when (draft_flags.py).
    draft_urgent_rules: Mapped[list | None] = mapped_column(JSON)
    draft_urgent_at: Mapped[datetime.datetime | None]

    question_set_version: Mapped[QuestionSetVersion] = relationship()
    rule_set_version: Mapped[RuleSetVersion] = relationship()
    submission: Mapped[Submission | None] = relationship(back_populates="intake", uselist=False)


class Submission(db.Model):
    """A submitted intake with its result, evaluated once at submission and never recomputed."""

    __tablename__ = "submission"
    __table_args__ = (
        Index("ix_submission_worklist", "severity_rank", "submitted_at", "id"),
        # The default work list ("to review") scans only the submissions nobody has reviewed yet.
        Index("ix_submission_to_review", "severity_rank", "submitted_at", "id",
              sqlite_where=text("reviewed_at IS NULL"), postgresql_where=text("reviewed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intake.id"), unique=True)  # one per intake
    submitted_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, index=True)
    answers: Mapped[dict] = mapped_column(JSON)
    result: Mapped[dict] = mapped_column(JSON)  # Result.to_json() plus versions
    severity_rank: Mapped[int] = mapped_column(SmallInteger)  # 0 exclude .. 3 info, 4 no flags
    exclude_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    urgent_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    review_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    info_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    pdf_rendered_at: Mapped[datetime.datetime | None]
    # Set together with the review's record (clinician.models.SubmissionReview, which holds the note).
    reviewed_at: Mapped[datetime.datetime | None]
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("user.id", name="fk_submission_reviewed_by_user"))

    intake: Mapped[Intake] = relationship(back_populates="submission")


ROLES = ("clinician", "admin")


class User(db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)


class AuditEvent(db.Model):
    """Who did what, when. Never holds answers. ``hash`` chains each event to the one before it."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))  # "user:<id>", "patient:intake:<id>", "system"
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


DRAFT_KINDS = ("question_set", "rule_set")


class Draft(db.Model):
    """An admin's unpublished edit of a set. Saved even when invalid, so no typing is lost."""

    __tablename__ = "draft"
    __table_args__ = (UniqueConstraint("kind", "set_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    set_id: Mapped[str] = mapped_column(String(64))
    yaml_text: Mapped[str] = mapped_column(Text)
    based_on_version: Mapped[int | None]
    updated_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class AuditHead(db.Model):
    """One row: the hash of the newest audit event. Updating it first serializes writers of the log
    (SQLite's write lock, PostgreSQL's row lock), and it reveals a deleted last event."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class RateLimitCounter(db.Model):
    """One fixed-window rate-limit counter, shared by every app process (screening/rate_limit_store.py).
    ``expires_at`` is a Unix time: a row past it counts as zero and is reset by the next hit."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int]
    expires_at: Mapped[float] = mapped_column(Double, index=True)
