"""Exports read from the database: what the admin pages, the API and the CLI hand out. Each one is an
audit event naming who exported what (never the content)."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from . import audit
from .content import compile_question_set
from .db import db
from .exchange.csv_export import export_zip
from .exchange.fhir_base import Urls
from .exchange.fhir_questionnaire import export_questionnaire
from .exchange.fhir_submission import submission_bundle
from .exchange.records import SubmissionRecord
from .models import Intake, QuestionSetVersion, RuleSetVersion, Submission
from .yaml_source import LoadError, Source


def question_set_row(set_id: str, version: int) -> QuestionSetVersion | None:
    return db.session.scalar(select(QuestionSetVersion).where(QuestionSetVersion.set_id == set_id,
                                                              QuestionSetVersion.version == version))


def questionnaire(row: QuestionSetVersion, base_url: str, actor: str) -> dict:
    resource = export_questionnaire(row.yaml_text, row.version, Urls(base_url), row.published_at)
    audit.record(actor, "export.fhir_questionnaire", f"question_set:{row.set_id}", version=row.version)
    db.session.commit()
    return resource


def submissions_of(row: QuestionSetVersion) -> list[Submission]:
    return list(db.session.scalars(
        select(Submission).join(Intake).where(Intake.question_set_version_id == row.id)
        .options(joinedload(Submission.intake).joinedload(Intake.question_set_version))
        .order_by(Submission.submitted_at, Submission.id)))


def rule_ids_of(submissions: list[Submission]) -> list[str]:
    """The rules of every rule-set version these submissions were flagged with, in file order."""
    version_ids = {s.intake.rule_set_version_id for s in submissions}
    ids: dict[str, None] = {}
    for rs_row in db.session.scalars(select(RuleSetVersion).where(RuleSetVersion.id.in_(version_ids))
                                     .order_by(RuleSetVersion.version)):
        try:
            rules = Source(rs_row.yaml_text, rs_row.set_id).data.get("rules") or []
        except LoadError:
            continue
        ids.update((rule["id"], None) for rule in rules if isinstance(rule, dict) and isinstance(rule.get("id"), str))
    for submission in submissions:  # a rule seen only in a stored result still gets its column
        ids.update((flag["rule"], None) for flag in submission.result.get("flags") or [])
    return list(ids)


def csv_zip(row: QuestionSetVersion, actor: str) -> tuple[str, bytes, int]:
    """(file name, zip bytes, number of submissions) for one question-set version."""
    submissions = submissions_of(row)
    records = [SubmissionRecord.of(s) for s in submissions]
    name, data = export_zip(compile_question_set(row), row.version, records, rule_ids_of(submissions))
    audit.record(actor, "export.csv", f"question_set:{row.set_id}", version=row.version, submissions=len(records))
    db.session.commit()
    return name, data, len(records)


def submission(submission_id: int) -> Submission | None:
    return db.session.scalar(select(Submission).where(Submission.id == submission_id)
                             .options(joinedload(Submission.intake).joinedload(Intake.question_set_version)))


def bundle(submission_row: Submission, base_url: str, actor: str) -> dict:
    record = SubmissionRecord.of(submission_row)
    resource = submission_bundle(record, compile_question_set(submission_row.intake.question_set_version),
                                 Urls(base_url))
    audit.record(actor, "export.fhir_submission", f"submission:{submission_row.id}")
    db.session.commit()
    return resource


def to_json(resource: dict) -> str:
    return json.dumps(resource, ensure_ascii=False, indent=2)
