"""A clinician's review of a submission: who, when and an optional note (one per submission).

The review's record (with the note, and the reviewer's e-mail as it was) lives in its own table,
whose primary key makes a second review of the same submission fail even when two clinicians
press the button at once. Whether a submission still needs review is ``submission.reviewed_at``,
set in the same transaction by ``record_review``: the work list's "to review" filter is then
``reviewed_at IS NULL`` on a partial index, instead of an anti-join over every review.
"""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ..models import Submission, User, utcnow


class SubmissionReview(db.Model):
    __tablename__ = "submission_review"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), primary_key=True)
    reviewed_by: Mapped[int] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[datetime.datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    reviewer_email: Mapped[str] = mapped_column(String(255))  # as it was when reviewing


def record_review(submission: Submission, reviewer: User, note: str | None = None,
                  at: datetime.datetime | None = None) -> SubmissionReview:
    """Mark ``submission`` reviewed by ``reviewer`` (added to the session; the caller commits)."""
    at = at or utcnow()
    submission.reviewed_at = at
    submission.reviewed_by = reviewer.id
    review = SubmissionReview(submission_id=submission.id, reviewed_by=reviewer.id,
                              reviewer_email=reviewer.email, reviewed_at=at, note=note)
    db.session.add(review)
    return review
