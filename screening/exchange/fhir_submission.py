"""A submission as a FHIR R4 Bundle: Patient, QuestionnaireResponse, score Observations, RiskAssessment.

- The QuestionnaireResponse names its Questionnaire as ``url|version`` and holds the answers of the
  items the patient was shown, grouped by section like the Questionnaire (FHIR has no empty answer:
  blank text and an empty "choose all that apply" are left out; the CSV export keeps the latter as 0s).
  Its ``language`` is the one the patient answered in, and its texts are the ones the patient read;
  where those are a translation, the set's own text rides along as a ``translation`` extension.
- A complete score with a LOINC code (loinc.yaml: PHQ-9 total, GAD-7 total) is an Observation derived
  from the response; scores without a code are not guessed at.
- The flags are ONE RiskAssessment: the outcome of running one rule-set version over this response
  (``basis`` = the response, ``method`` = the rule set), one ``prediction`` per flag with its severity
  as ``qualitativeRisk`` and its reasons as ``rationale``. A FHIR ``Flag`` is a standing alert an EHR
  keeps on a patient's record until someone resolves it; a screening flag is a point-in-time finding
  for the clinician to weigh, so RiskAssessment fits it better (and with no flag it still says that the
  rules ran and none fired).

Entries are linked by stable ``urn:uuid:`` ids derived from the submission, so fetching the same
submission twice gives the same Bundle.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from ..questions.model import QuestionSet, encode_answer
from ..yaml_source import Source
from .fhir_base import Urls, translation_extension, validate
from .records import SubmissionRecord, iso_instant

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LOINC = "http://loinc.org"


def has_answer(value: Any) -> bool:
    """FHIR has no empty answer: blank text and "none of these" (an empty choice list) are left out."""
    if value is None or value == ():
        return False
    return not (isinstance(value, str) and not value.strip())


@cache
def loinc_codes() -> dict[str, dict[str, str]]:
    path = Path(__file__).with_name("loinc.yaml")
    return Source(path.read_text(encoding="utf-8"), str(path)).data


def submission_bundle(record: SubmissionRecord, question_set: QuestionSet, urls: Urls) -> dict:
    """The validated Bundle (type ``collection``) for one submission."""
    builder = _Builder(record, question_set, urls)
    return validate(builder.bundle())


class _Builder:
    def __init__(self, record: SubmissionRecord, question_set: QuestionSet, urls: Urls):
        self.record, self.qs, self.urls = record, question_set, urls
        self.shown = question_set.in_language(record.language)  # the texts the patient read
        self.authored = iso_instant(record.submitted_at)
        self.patient_ref = urls.urn("Patient", record.intake_id or f"submission-{record.id}")
        self.response_ref = urls.urn("QuestionnaireResponse", record.id)

    def bundle(self) -> dict:
        entries = [(self.patient_ref, self.patient()), (self.response_ref, self.response())]
        entries += [(self.urls.urn("Observation", f"{self.record.id}/{score_id}"), observation)
                    for score_id, observation in self.observations()]
        entries.append((self.urls.urn("RiskAssessment", self.record.id), self.risk_assessment()))
        return {"resourceType": "Bundle", "type": "collection", "timestamp": self.authored,
                "identifier": {"system": self.urls.submission_system, "value": str(self.record.id)},
                "entry": [{"fullUrl": ref, "resource": resource} for ref, resource in entries]}

    def patient(self) -> dict:
        patient: dict[str, Any] = {"resourceType": "Patient"}
        if self.record.clinic_ref:
            patient["identifier"] = [{"system": self.urls.clinic_ref_system, "value": self.record.clinic_ref}]
        if self.record.patient_name:
            patient["name"] = [{"text": self.record.patient_name}]
        if self.record.patient_dob:
            patient["birthDate"] = self.record.patient_dob.isoformat()
        return patient

    # -- the response ------------------------------------------------------------------------------
    def response(self) -> dict:
        answers = self.record.visible_answers(self.qs)
        groups = []
        own_sections = {section.id: section for section in self.qs.sections}
        for section in self.shown.sections:
            items = [self.answer_item(item, answers[item.id]) for item in section.items
                     if has_answer(answers.get(item.id))]
            if items:
                group = {"linkId": section.id, **self.text("text", section.title, own_sections[section.id].title),
                         "item": items}
                groups.append(group)
        url = self.urls.questionnaire(self.record.question_set_id)
        return {"resourceType": "QuestionnaireResponse",
                "identifier": {"system": self.urls.submission_system, "value": str(self.record.id)},
                "questionnaire": f"{url}|{self.record.question_set_version}", "status": "completed",
                "language": self.record.language,
                "subject": {"reference": self.patient_ref}, "authored": self.authored, "item": groups}

    def text(self, key: str, shown: str, own: str) -> dict:
        """``{key: shown}``, and the set's own text as a translation extension when the patient read another."""
        out: dict[str, Any] = {key: shown}
        if shown != own:
            out["_" + key] = {"extension": [translation_extension(self.qs.language, own)]}
        return out

    def answer_item(self, item: Any, value: Any) -> dict:
        values = value if item.type == "multi_choice" else (value,)
        return {"linkId": item.id, **self.text("text", item.text, self.qs.items[item.id].text),
                "answer": [self.answer_value(item, v) for v in values]}

    def answer_value(self, item: Any, value: Any) -> dict:
        if item.type == "yes_no":
            return {"valueBoolean": value}
        if item.choices:
            return {"valueCoding": {"system": self.urls.answer_system(self.qs.id, item.id), "code": str(value),
                                    **self.text("display", item.choice_label(value),
                                                self.qs.items[item.id].choice_label(value))}}
        if item.type == "integer":
            return {"valueInteger": value}
        if item.type == "decimal":
            return {"valueDecimal": value}
        if item.type == "date":
            return {"valueDate": encode_answer(value)}
        return {"valueString": value}

    # -- scores and flags --------------------------------------------------------------------------
    def observations(self) -> list[tuple[str, dict]]:
        out = []
        scores = self.record.result.get("scores") or {}
        for score_id, coding in loinc_codes().items():
            score = scores.get(score_id) or {}
            if not score.get("complete") or score.get("value") is None:
                continue
            observation = {
                "resourceType": "Observation", "status": "final",
                "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
                "code": {"coding": [{"system": LOINC, "code": coding["code"], "display": coding["display"]}],
                         "text": coding["display"]},
                "subject": {"reference": self.patient_ref}, "effectiveDateTime": self.authored,
                "valueInteger": score["value"], "derivedFrom": [{"reference": self.response_ref}]}
            if score.get("band"):
                observation["interpretation"] = [{"text": score["band"]}]
            out.append((score_id, observation))
        return out

    def risk_assessment(self) -> dict:
        rule_set = self.record.result.get("rule_set") or {}
        method = f"rule set {rule_set.get('id')} version {rule_set.get('version')}"
        assessment: dict[str, Any] = {
            "resourceType": "RiskAssessment", "status": "final",
            "code": {"text": "Pre-consultation safety screening"},
            "method": {"coding": [{"system": self.urls.code_system("rule-set"), "code": str(rule_set.get("id")),
                                   "version": str(rule_set.get("version"))}], "text": method},
            "subject": {"reference": self.patient_ref}, "occurrenceDateTime": self.authored,
            "basis": [{"reference": self.response_ref}]}
        flags = self.record.result.get("flags") or []
        if flags:
            assessment["prediction"] = [self.prediction(flag, rule_set.get("id")) for flag in flags]
        else:
            assessment["note"] = [{"text": f"No rule of the {method} fired."}]
        return assessment

    def prediction(self, flag: dict, rule_set_id: Any) -> dict:
        because = "; ".join(fact.get("text", "") for fact in flag.get("because") or [])
        rationale = f"Because: {because}. Source: {flag.get('source')}" if because else f"Source: {flag.get('source')}"
        return {"outcome": {"coding": [{"system": self.urls.code_system(f"rules/{rule_set_id}"), "code": flag["rule"]}],
                            "text": flag["message"]},
                "qualitativeRisk": {"coding": [{"system": self.urls.code_system("flag-severity"),
                                                "code": flag["severity"]}], "text": flag["severity"]},
                "rationale": rationale}
