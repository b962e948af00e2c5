"""A submission as the exchange formats see it: plain values, read once from the database rows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ..questions.translations import SOURCE_LANGUAGE


@dataclass(frozen=True)
class SubmissionRecord:
    id: int
    submitted_at: datetime.datetime
    answers: dict[str, Any]  # the JSON encoding of the clinical spec, as submitted
    result: dict[str, Any]  # the stored evaluation: scores, flags, question_set/rule_set ids and versions
    question_set_id: str
    question_set_version: int
    patient_name: str | None = None
    patient_dob: datetime.date | None = None
    clinic_ref: str | None = None
    intake_id: int | None = None
    language: str = SOURCE_LANGUAGE  # the language the patient answered in

    @classmethod
    def of(cls, submission: Any) -> SubmissionRecord:
        """From a ``Submission`` row (with its intake and pinned question-set version)."""
        intake = submission.intake
        qs_row = intake.question_set_version
        return cls(id=submission.id, submitted_at=submission.submitted_at, answers=submission.answers,
                   result=submission.result, question_set_id=qs_row.set_id, question_set_version=qs_row.version,
                   patient_name=intake.patient_name, patient_dob=intake.patient_dob, clinic_ref=intake.clinic_ref,
                   intake_id=intake.id, language=intake.language or SOURCE_LANGUAGE)

    @property
    def as_of(self) -> datetime.date:
        try:
            return datetime.date.fromisoformat(self.result.get("as_of") or "")
        except ValueError:
            return self.submitted_at.date()

    def visible_answers(self, question_set: Any) -> dict[str, Any]:
        """The normalized answers of the items the patient was shown (what was scored)."""
        valid, _ = question_set.normalize_answers(self.answers, self.as_of)
        return question_set.resolve(valid, self.as_of).answers


def iso_instant(moment: datetime.datetime) -> str:
    """A stored UTC time (naive) as a FHIR/ISO instant with its zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
