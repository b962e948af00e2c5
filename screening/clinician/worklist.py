"""The work list: submissions by highest flag severity (exclude first), then newest first.

Keyset pagination on the ``(severity_rank, submitted_at, id)`` indexes (one partial, of the
submissions not yet reviewed, for the default view), never OFFSET: a page is at most
one index range scan per severity rank (five ranks), each ``severity_rank = r AND (submitted_at,
id) < cursor ORDER BY submitted_at DESC, id DESC LIMIT n``, so page 2,000 costs what page 1 does.
(Mixed sort directions -- rank ascending, time descending -- cannot be one range scan, hence one
query per rank.)
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import defer, joinedload

from ..db import db
from ..models import Submission
from ..rules.ruleset import SEVERITIES
from .models import SubmissionReview

RANK_NAMES = SEVERITIES + ("none",)  # rank 0..4; 4 = no flags
REVIEW_STATES = ("to_review", "reviewed", "all")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Cursor:
    rank: int
    submitted_at: datetime.datetime
    id: int

    def encode(self) -> str:
        return f"{self.rank}~{self.submitted_at.strftime('%Y%m%dT%H%M%S.%f')}~{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """A cursor from a query string, or None when it is absent or malformed."""
        if not text or len(text) > 64:
            return None
        try:
            rank, moment, ident = text.split("~")
            cursor = cls(int(rank), datetime.datetime.strptime(moment, "%Y%m%dT%H%M%S.%f"), int(ident))
        except ValueError:
            return None
        return cursor if 0 <= cursor.rank < len(RANK_NAMES) and 0 < cursor.id < 2**63 else None

    @classmethod
    def of(cls, submission: Submission) -> Cursor:
        return cls(submission.severity_rank, submission.submitted_at, submission.id)


@dataclass
class Page:
    rows: list[Submission]
    reviews: dict[int, SubmissionReview]
    next_cursor: Cursor | None
    prev_cursor: Cursor | None


def _rank_query(rank: int, review_state: str, cursor: Cursor | None, backwards: bool, limit: int):
    query = select(Submission.id, Submission.severity_rank, Submission.submitted_at).where(
        Submission.severity_rank == rank)
    key = tuple_(Submission.submitted_at, Submission.id)
    if cursor is not None and cursor.rank == rank:
        bound = tuple_(cursor.submitted_at, cursor.id)
        query = query.where(key > bound if backwards else key < bound)
    if review_state == "to_review":
        query = query.where(Submission.reviewed_at.is_(None))  # the partial index ix_submission_to_review
    elif review_state == "reviewed":
        query = query.where(Submission.reviewed_at.is_not(None))
    if backwards:
        return query.order_by(Submission.submitted_at.asc(), Submission.id.asc()).limit(limit)
    return query.order_by(Submission.submitted_at.desc(), Submission.id.desc()).limit(limit)


def _scan(ranks: list[int], review_state: str, cursor: Cursor | None, backwards: bool, want: int) -> list[tuple]:
    found: list[tuple] = []
    for rank in ranks:
        if len(found) >= want:
            break
        found.extend(db.session.execute(_rank_query(rank, review_state, cursor, backwards, want - len(found))).all())
    return found


def worklist_page(review_state: str = "to_review", severity: int | None = None, after: Cursor | None = None,
                  before: Cursor | None = None, limit: int = PAGE_SIZE) -> Page:
    """One page of the work list. ``after``/``before`` are the cursors of the next/previous links."""
    if review_state not in REVIEW_STATES:
        review_state = "to_review"
    all_ranks = [severity] if severity is not None else list(range(len(RANK_NAMES)))
    if before is not None:
        ranks = [r for r in reversed(all_ranks) if r <= before.rank]
        keys = _scan(ranks, review_state, before, True, limit + 1)
        has_more_before = len(keys) > limit
        keys = list(reversed(keys[:limit]))
        has_more_after = True
    else:
        ranks = [r for r in all_ranks if after is None or r >= after.rank]
        keys = _scan(ranks, review_state, after, False, limit + 1)
        has_more_after = len(keys) > limit
        keys = keys[:limit]
        has_more_before = after is not None
    ids = [k.id for k in keys]
    by_id = {}
    reviews = {}
    if ids:
        by_id = {s.id: s for s in db.session.scalars(select(Submission).options(joinedload(Submission.intake), defer(Submission.answers))
                                                     .where(Submission.id.in_(ids)))}
        reviews = {r.submission_id: r for r in db.session.scalars(
            select(SubmissionReview).where(SubmissionReview.submission_id.in_(ids)))}
    rows = [by_id[i] for i in ids if i in by_id]
    next_cursor = Cursor(keys[-1].severity_rank, keys[-1].submitted_at, keys[-1].id) if keys and has_more_after else None
    prev_cursor = Cursor(keys[0].severity_rank, keys[0].submitted_at, keys[0].id) if keys and has_more_before else None
    return Page(rows, reviews, next_cursor, prev_cursor)
