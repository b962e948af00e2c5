"""Database models. Published question-set and rule-set versions are immutable rows."""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

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
