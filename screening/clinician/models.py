"""A clinician's review of a submission: who, when and an optional note (one per submission).

Kept in its own table because the submission table belongs to the core data model; see the
issue notes for moving ``reviewed_at`` onto ``submission`` with a work-list index.
"""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ..models import utcnow


class SubmissionReview(db.Model):
    __tablename__ = "submission_review"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), primary_key=True)
    reviewed_by: Mapped[int] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    reviewer_email: Mapped[str] = mapped_column(String(255))  # as it was when reviewing
