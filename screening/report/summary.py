"""The clinician summary as plain data: what the one template (HTML page and PDF) shows.

Built from the *stored* result and answers with the pinned question set for wording: nothing is
re-evaluated. (Which items were shown to the patient is worked out again from the stored answers
with the pinned version, which is deterministic; flags and scores come only from the result.)
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..questions.model import Item, QuestionSet, parse_date
from ..questions.translations import SOURCE_LANGUAGE, language_name
from ..rules.conditions import format_value
from ..rules.ruleset import SEVERITIES

SEVERITY_TITLES = {
    "exclude": ("Exclude", "possible contraindication: do not start treatment until a clinician has assessed it"),
    "urgent": ("Urgent", "needs a clinician's attention promptly, before the consultation"),
    "review": ("Review", "discuss and assess before treatment planning"),
    "info": ("Info", "for awareness; no action needed before the consultation"),
}
DECISION_SUPPORT_NOTE = ("Flags are decision support for the clinician, not decisions. Each one says which answers "
                         "raised it; confirm them with the patient.")


@dataclass
class Patient:
    name: str | None = None
    dob: datetime.date | None = None
    clinic_ref: str | None = None
    intake_id: int | None = None
    language: str | None = None  # the language the patient answered in (None: not recorded)
    dob_from_answers: bool = False  # the invitation had no date of birth: ``dob`` is the one the patient gave

    @property
    def answered_in(self) -> str | None:
        """'Spanish', for "Patient answered in: Spanish"."""
        return language_name(self.language) if self.language else None

    @property
    def identity(self) -> str:
        """One line naming the patient, for page headers (plain text; the template escapes it)."""
        unnamed = f"Unnamed patient (intake {self.intake_id})" if self.intake_id else "Unnamed patient"
        parts = [self.name or unnamed]  # a header never starts with a bare date or reference
        if self.dob:
            parts.append(f"born {self.dob.isoformat()}" + (" (as the patient gave it)" if self.dob_from_answers else ""))
        if self.clinic_ref:
            parts.append(f"ref {self.clinic_ref}")
        return " · ".join(parts)


@dataclass
class FactView:
    kind: str
    ref: str
    label: str            # the question text, or the name of a score / computed value
    answer: str           # the patient's answer (labels, units), or the value
    tests: list[str]      # what the rule checked, e.g. "bp_systolic = 162 ≥ 160"


@dataclass
class FlagView:
    rule: str
    severity: str
    message: str
    source: str
    facts: list[FactView]

    @property
    def lead(self) -> tuple[str, str]:
        """The message's first sentence (shown in bold) and the rest."""
        head, sep, rest = self.message.partition(". ")
        return (head + ".", rest) if sep and rest else (self.message, "")


@dataclass
class SeverityGroup:
    severity: str
    title: str
    meaning: str
    flags: list[FlagView]


@dataclass
class ScoreView:
    id: str
    name: str
    value: str
    band: str | None
    complete: bool
    missing: list[tuple[str, str]] = field(default_factory=list)  # (item id, question text)


@dataclass
class AnswerRow:
    item_id: str
    text: str
    answer: str | None
    status: str  # answered | unanswered | hidden_ignored | rejected
    note: str | None = None


@dataclass
class SectionView:
    """One section of the answers appendix. Questions an earlier answer hid (and that hold no answer)
    are listed by id in ``not_asked`` instead of a row each: the appendix is then as long as what
    the patient actually saw."""
    id: str
    title: str
    rows: list[AnswerRow]
    not_asked: list[str] = field(default_factory=list)


@dataclass
class Summary:
    clinic_name: str
    patient: Patient
    submission_id: int | None
    submitted: str | None          # formatted in the clinic's time zone
    as_of: str
    groups: list[SeverityGroup]    # only severities with flags, most severe first
    flag_counts: dict[str, int]
    scores: list[ScoreView]
    computed: list[tuple[str, str]]
    sections: list[SectionView]
    question_set: dict[str, Any]
    rule_set: dict[str, Any]
    instruments: list[dict[str, str]]
    rejected: list[tuple[str, str]]
    dob_mismatch: str | None = None
    origin: str | None = None      # e.g. "rendered from answers.json" for the CLI
    language: str = "English"      # the language of the question texts and answers shown (the clinic's)
    # Instruments the patient read in the set's own language, their language having no published version
    in_source_language: list[str] = field(default_factory=list)
    source_language: str = "English"

    @property
    def flag_total(self) -> int:
        return sum(self.flag_counts.values())

    @property
    def running_when(self) -> str:
        """The time line printed at the top of every PDF page."""
        if self.submitted:
            return f"Submitted {self.submitted}"
        return f"Not submitted: {self.origin or 'rendered from answers'}"

    @property
    def glance_scores(self) -> list[str]:
        parts = []
        for score in self.scores:
            if not score.complete:
                parts.append(f"{score.name} incomplete")
            else:
                parts.append(f"{score.name} {score.value}" + (f", {score.band}" if score.band else ""))
        return parts + [f"{label} {value}" for label, value in self.computed]

    @property
    def note(self) -> str:
        return DECISION_SUPPORT_NOTE

    @property
    def title(self) -> str:
        return f"Screening summary, submission {self.submission_id}" if self.submission_id else "Screening summary"


# -- formatting --------------------------------------------------------------------------------

def humanize(value: str) -> str:
    """'non_acute_positive' -> 'non-acute positive'."""
    return re.sub(r"\bnon_", "non-", value).replace("_", " ")


def format_answer(item: Item | None, value: Any) -> str:
    """A stored answer (JSON encoding) as the clinician reads it: labels, units, Yes/No."""
    if value is None:
        return "not answered"
    if item is None:
        return format_value(value)
    kind = item.type
    if kind == "yes_no" and isinstance(value, bool):
        return "Yes" if value else "No"
    if kind == "scale":
        label = item.choice_label(value)
        return f"{label} ({format_value(value)})" if label != format_value(value) else label
    if kind == "single_choice":
        return item.choice_label(value)
    if kind == "multi_choice" and isinstance(value, (list, tuple)):
        if not value:
            return item.none_label or "None of these"
        return "; ".join(item.choice_label(v) for v in value)
    if kind in ("integer", "decimal") and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not item.unit:
            return format_value(value)
        unit = item.unit
        if value == 1 and unit.isalpha() and unit.endswith("s"):
            unit = unit[:-1]  # "1 medicine", "1 time", "1 month"
        return f"{format_value(value)} {unit}"
    return format_value(value)


def short_name(title: str) -> str:
    """'Patient Health Questionnaire (PHQ-9)' -> 'PHQ-9'."""
    match = re.search(r"\(([^()]{1,20})\)\s*$", title)
    return match.group(1) if match else title


def score_name(qs: QuestionSet, score_id: str) -> str:
    instrument_id = qs.score_instrument.get(score_id)
    instrument = next((i for i in qs.instruments if i.id == instrument_id), None)
    if instrument is not None and len(instrument.scores) == 1:
        return short_name(instrument.title)
    score = qs.scores.get(score_id)
    label = getattr(score, "label", None) or score_id
    return label if label != score_id else score_id.upper()


def format_time(moment: datetime.datetime | None, tz_name: str) -> str | None:
    """A naive-UTC timestamp in the clinic's time zone, e.g. '2026-03-15 14:02 (Europe/London)'."""
    if moment is None:
        return None
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone, tz_name = ZoneInfo("UTC"), "UTC"
    local = moment.replace(tzinfo=datetime.timezone.utc).astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} ({tz_name})"


# -- building ----------------------------------------------------------------------------------

def _fact_views(qs: QuestionSet, because: list[dict], scores: dict, computed: dict,
                answers: dict) -> list[FactView]:
    grouped: dict[tuple[str, str], FactView] = {}
    for fact in because:
        kind, ref, text = fact.get("kind", "answer"), fact.get("id", ""), fact.get("text", "")
        key = (kind, ref)
        if key in grouped:
            if text not in grouped[key].tests:
                grouped[key].tests.append(text)
            continue
        value = fact.get("value")
        if kind == "answer":
            item = qs.items.get(ref)
            label = item.text if item else ref
            answer = format_answer(item, _matched_choices(item, ref, text) or value)
        elif kind in ("score", "band"):
            label = score_name(qs, ref) + (" result" if kind == "band" else " score")
            stored = scores.get(ref, {})
            answer = _score_value_text(qs, ref, stored) if stored.get("complete") else format_value(value)
            if stored.get("band"):
                answer += f", {stored['band']}"
        else:
            comp = qs.computed.get(ref)
            label = comp.label if comp else ref
            answer = format_value(computed.get(ref, value))
            if comp is not None and comp.unit and value is not None:
                answer += f" {comp.unit}"
            if comp is not None:
                sources = [f"{i} = {format_answer(qs.items.get(i), answers.get(i))}" for i in comp.inputs]
                label += " (computed from " + ", ".join(sources) + ")"
        grouped[key] = FactView(kind, ref, label, answer, [text] if text else [])
    return list(grouped.values())


def _matched_choices(item: Item | None, ref: str, text: str) -> list[str] | None:
    """For a multi-choice test that held ("medical_conditions includes aneurysm"), just the choices it matched."""
    prefix = f"{ref} includes "
    if item is None or item.type != "multi_choice" or not text.startswith(prefix):
        return None
    values = [v.strip() for v in text[len(prefix):].split(",")]
    return values if values and all(v in item.choice_values for v in values) else None


def _score_value_text(qs: QuestionSet, score_id: str, stored: dict) -> str:
    value = stored.get("value")
    if isinstance(value, str):
        return humanize(value)
    score = qs.scores.get(score_id)
    hi = getattr(score, "hi", None)
    return f"{format_value(value)} of {format_value(hi)}" if hi is not None else format_value(value)


def _scores(qs: QuestionSet, stored_scores: dict) -> list[ScoreView]:
    views = []
    for score_id, stored in stored_scores.items():
        name = score_name(qs, score_id)
        if not stored.get("complete"):
            missing = [(i, qs.items[i].text if i in qs.items else i) for i in stored.get("missing", [])]
            views.append(ScoreView(score_id, name, "incomplete", None, False, missing))
            continue
        band = stored.get("band")
        views.append(ScoreView(score_id, name, _score_value_text(qs, score_id, stored),
                               humanize(band) if band else None, True))
    return views


def _sections(qs: QuestionSet, answers: dict, as_of: datetime.date, ignored: set[str],
              rejected: dict[str, str]) -> list[SectionView]:
    valid, _ = qs.normalize_answers(answers if isinstance(answers, dict) else {}, as_of)
    hidden = qs.resolve(valid, as_of).hidden
    sections = []
    for section in qs.sections:
        rows, not_asked = [], []
        for item in section.items:
            raw = answers.get(item.id) if isinstance(answers, dict) else None
            if item.id in rejected:
                rows.append(AnswerRow(item.id, item.text, format_value(raw), "rejected",
                                      f"not accepted: {rejected[item.id]}"))
            elif item.id in hidden:
                if raw is not None or item.id in ignored:
                    rows.append(AnswerRow(item.id, item.text, format_answer(item, raw), "hidden_ignored",
                                          "not asked (hidden by an earlier answer); this earlier answer was ignored"))
                else:
                    not_asked.append(item.id)
            elif raw is None:
                rows.append(AnswerRow(item.id, item.text, None, "unanswered",
                                      "required, not answered" if item.required else "not answered"))
            else:
                rows.append(AnswerRow(item.id, item.text, format_answer(item, raw), "answered"))
        sections.append(SectionView(section.id, section.title, rows, not_asked))
    return sections


def build_summary(qs: QuestionSet, result: dict, answers: dict, patient: Patient, *,
                  submitted_at: datetime.datetime | None = None, submission_id: int | None = None,
                  clinic_name: str = "", tz_name: str = "UTC", origin: str | None = None) -> Summary:
    as_of = parse_date(result.get("as_of")) or datetime.date.today()
    scores = result.get("scores", {})
    computed = result.get("computed", {})
    flags = [FlagView(f["rule"], f["severity"], f["message"], f["source"],
                      _fact_views(qs, f.get("because", []), scores, computed,
                                  answers if isinstance(answers, dict) else {}))
             for f in result.get("flags", [])]
    groups = []
    for severity in SEVERITIES:
        members = [f for f in flags if f.severity == severity]
        if members:
            title, meaning = SEVERITY_TITLES[severity]
            groups.append(SeverityGroup(severity, title, meaning, members))
    counts = {s: sum(1 for f in flags if f.severity == s) for s in SEVERITIES}
    computed_rows = []
    for comp_id, comp in qs.computed.items():
        value = computed.get(comp_id)
        text = "unknown (not answered)" if value is None else format_value(value) + (f" {comp.unit}" if comp.unit else "")
        computed_rows.append((comp.label, text))
    rejected = {r["id"]: r["reason"] for r in result.get("rejected", []) if isinstance(r, dict)}
    dob_answer = parse_date(answers.get("date_of_birth")) if isinstance(answers, dict) else None
    mismatch = None
    if patient.dob and dob_answer and dob_answer != patient.dob:
        mismatch = (f"The date of birth the patient gave ({dob_answer.isoformat()}) differs from the one on the "
                    f"invitation ({patient.dob.isoformat()}).")
    elif dob_answer and not patient.dob:
        patient = replace(patient, dob=dob_answer, dob_from_answers=True)
    instruments = [{"title": i.title, "citation": i.citation, "licence": i.licence} for i in qs.instruments]
    return Summary(
        clinic_name=clinic_name, patient=patient, submission_id=submission_id,
        submitted=format_time(submitted_at, tz_name), as_of=as_of.isoformat(),
        groups=groups, flag_counts=counts, scores=_scores(qs, scores), computed=computed_rows,
        sections=_sections(qs, answers, as_of, set(result.get("ignored", [])), rejected),
        question_set=dict(result.get("question_set", {})), rule_set=dict(result.get("rule_set", {})),
        instruments=instruments, rejected=sorted(rejected.items()), dob_mismatch=mismatch, origin=origin,
        language=language_name(qs.language), in_source_language=_instruments_in_source_language(qs, patient.language),
        source_language=language_name(SOURCE_LANGUAGE))


def _instruments_in_source_language(qs: QuestionSet, language: str | None) -> list[str]:
    """Titles of the instruments a patient reading ``language`` was shown in the set's own language: a
    clinician weighs a score from questions read in a second language differently."""
    if not language or language == SOURCE_LANGUAGE:
        return []
    untranslated = qs.in_language(language).source_language_items
    return [inst.title for inst in qs.instruments if any(ref in untranslated for ref in inst.items)]


def summary_for_submission(submission) -> Summary:
    """The summary of a stored submission, with the wording of its pinned question-set version in the clinic's
    language (``CLINIC_LANGUAGE``)."""
    from flask import current_app

    from ..content import compile_question_set

    intake = submission.intake
    # Always the clinic's language, whatever language the patient answered in.
    qs = compile_question_set(intake.question_set_version).in_language(current_app.config["CLINIC_LANGUAGE"])
    patient = Patient(intake.patient_name, intake.patient_dob, intake.clinic_ref, intake.id, intake.language)
    return build_summary(qs, submission.result, submission.answers, patient,
                         submitted_at=submission.submitted_at, submission_id=submission.id,
                         clinic_name=current_app.config["CLINIC_NAME"],
                         tz_name=current_app.config["CLINIC_TIMEZONE"])
