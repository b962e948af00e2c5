"""Submitting an intake: evaluate once with its pinned versions and store the result with it."""

from __future__ import annotations

from blinker import Namespace
from sqlalchemy.exc import IntegrityError

from .content import compile_question_set, compile_rule_set
from .db import db
from .draft_flags import clear_draft_flags
from .evaluation import evaluate
from .models import Intake, Submission, utcnow
from .rules.ruleset import SEVERITY_RANK

signals = Namespace()
# Sent after a submission is committed, with submission=...; the report module renders its PDF.
submission_created = signals.signal("submission-created")

NO_FLAGS_RANK = len(SEVERITY_RANK)


def evaluate_intake(intake: Intake, as_of=None):
    qs_row, rs_row = intake.question_set_version, intake.rule_set_version
    qs = compile_question_set(qs_row)
    rs = compile_rule_set(rs_row, qs_row)
    return evaluate(qs, rs, intake.answers, as_of)


def result_document(intake: Intake, result) -> dict:
    document = result.to_json()
    qs_row, rs_row = intake.question_set_version, intake.rule_set_version
    document["question_set"].update(version=qs_row.version, title=qs_row.title)
    document["rule_set"].update(version=rs_row.version, title=rs_row.title)
    return document


def submit_intake(intake: Intake) -> Submission:
    """Create the intake's one submission (a second call, or a concurrent one, returns the first)."""
    if intake.submission is not None:
        return intake.submission
    now = utcnow()
    result = evaluate_intake(intake, now.date())
    counts = {name: 0 for name in SEVERITY_RANK}
    for flag in result.flags:
        counts[flag.severity] += 1
    submission = Submission(
        intake_id=intake.id, submitted_at=now, answers=dict(intake.answers),
        result=result_document(intake, result),
        severity_rank=SEVERITY_RANK[result.highest_severity] if result.flags else NO_FLAGS_RANK,
        exclude_count=counts["exclude"], urgent_count=counts["urgent"],
        review_count=counts["review"], info_count=counts["info"])
    intake.state = "submitted"
    intake.submitted_at = now
    clear_draft_flags(intake)  # the submission's own flags take over
    db.session.add(submission)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        db.session.refresh(intake)
        return intake.submission
    submission_created.send(submission, submission=submission)
    return submission
