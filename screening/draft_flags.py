"""Urgent flags raised by a draft's saved answers, before the patient sends it.

The rules fire at submission; but a patient who gives an urgent answer (the crisis-support page
shows at once) may close the browser without sending. So each save evaluates the draft with the
intake's pinned sets and keeps, on the intake, which urgent rules it raises now and since when:
staff see them on the work list until the intake is submitted (its own flags take over) or revoked
(both clear them). Only rule ids are stored; their messages come from the pinned rule set.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import and_, func, select

from .content import question_set_of_version, rule_set_of_versions
from .db import db
from .evaluation import evaluate
from .models import OPEN_STATES, Intake, utcnow

URGENT = "urgent"


def note_draft_flags(intake: Intake, as_of: datetime.date | None = None) -> None:
    """Record the urgent rules the intake's saved answers raise (None when none). The time is when they
    began to stand: it is kept while any still does, so staff see how long the patient has waited."""
    qs = question_set_of_version(intake.question_set_version_id)
    rs = rule_set_of_versions(intake.rule_set_version_id, intake.question_set_version_id)
    rules = [flag.rule for flag in evaluate(qs, rs, intake.answers, as_of).flags if flag.severity == URGENT]
    if not rules:
        clear_draft_flags(intake)
        return
    if rules != intake.draft_urgent_rules:
        intake.draft_urgent_rules = rules
    if intake.draft_urgent_at is None:
        intake.draft_urgent_at = utcnow()


def clear_draft_flags(intake: Intake) -> None:
    if intake.draft_urgent_rules is not None or intake.draft_urgent_at is not None:
        intake.draft_urgent_rules = None
        intake.draft_urgent_at = None


def draft_messages(intake: Intake) -> list[str]:
    """The messages of the intake's urgent draft flags, from its pinned rule set."""
    if not intake.draft_urgent_rules:
        return []
    rs = rule_set_of_versions(intake.rule_set_version_id, intake.question_set_version_id)
    by_id = {rule.id: rule.message for rule in rs.rules}
    return [by_id[rule_id] for rule_id in intake.draft_urgent_rules if rule_id in by_id]


def open_with_urgent_draft():
    """The condition for open intakes with urgent draft flags (the partial index ix_intake_draft_urgent)."""
    return and_(Intake.draft_urgent_at.is_not(None), Intake.state.in_(OPEN_STATES))


@dataclass
class UrgentDrafts:
    count: int
    intakes: list[Intake]  # the first few, longest waiting first


def open_urgent_drafts(limit: int = 5) -> UrgentDrafts:
    """The open intakes with urgent draft flags: how many, and the first few, longest waiting first."""
    count = db.session.scalar(select(func.count()).select_from(Intake).where(open_with_urgent_draft())) or 0
    if not count:
        return UrgentDrafts(0, [])
    intakes = db.session.scalars(select(Intake).where(open_with_urgent_draft())
                                 .order_by(Intake.draft_urgent_at.asc(), Intake.id.asc()).limit(limit))
    return UrgentDrafts(count, list(intakes))
