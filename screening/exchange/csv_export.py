"""Submissions of one question-set version as CSV, one row per submission, with a data dictionary.

Laid out as REDCap users expect: the submission's own columns (number, time, clinic reference, the
code of the language the patient answered in, rule-set version), then one column per question; a
multiple-answer question becomes one 0/1 column per choice (``medications___ssri``); yes/no is 1/0;
then the computed values (age, BMI), each score and its band, then the flags (counts per severity
and one 0/1 column per rule). An empty cell means the question was not shown to the patient or not
answered. Column names use lower-case letters, digits and ``_`` (an id's ``-`` becomes ``_``). The
dictionary has one row per data column, in the same order.

Every text cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any, Callable

from ..questions.model import QuestionSet, encode_answer
from ..questions.translations import LANGUAGES
from ..rules.ruleset import SEVERITIES
from .records import SubmissionRecord, iso_instant

DICTIONARY_HEADER = ["column", "source_id", "text", "type", "choices"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    name: str
    source_id: str
    text: str
    type: str
    choices: str
    value: Callable[[SubmissionRecord, dict[str, Any]], Any]  # (record, visible answers) -> cell


def safe_cell(value: Any) -> Any:
    """Text a spreadsheet would evaluate is written with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def column_name(*parts: str, sep: str = "_") -> str:
    return sep.join(re.sub(r"[^a-z0-9_]", "_", part.lower()) for part in parts)


def choice_list(pairs) -> str:
    return " | ".join(f"{value}, {label}" for value, label in pairs)


class _Columns:
    def __init__(self, qs: QuestionSet, rule_ids: list[str]):
        self.qs = qs
        self.columns: list[Column] = []
        self.taken: set[str] = set()
        self.record_columns()
        self.item_columns()
        self.computed_columns()
        self.score_columns()
        self.flag_columns(rule_ids)

    def add(self, name: str, source_id: str, text: str, kind: str, choices: str, value) -> None:
        unique, n = name, 2
        while unique in self.taken:
            unique, n = f"{name}_{n}", n + 1
        self.taken.add(unique)
        self.columns.append(Column(unique, source_id, text, kind, choices, value))

    def record_columns(self) -> None:
        self.add("submission_id", "", "Submission number in this service", "integer", "", lambda r, a: r.id)
        self.add("submitted_at", "", "When the patient submitted (UTC, ISO 8601)", "datetime", "",
                 lambda r, a: iso_instant(r.submitted_at))
        self.add("clinic_ref", "", "The clinic's own reference for the patient (e.g. the record number)", "text", "",
                 lambda r, a: r.clinic_ref or "")
        self.add("language", "", "The language the patient answered in", "language",
                 choice_list((code, names[0]) for code, names in LANGUAGES.items()), lambda r, a: r.language)
        self.add("rule_set_version", "", "Version of the rule set that flagged this submission", "integer", "",
                 lambda r, a: (r.result.get("rule_set") or {}).get("version", ""))

    def item_columns(self) -> None:
        for item in self.qs.items.values():
            name = column_name(item.id)
            if item.type == "multi_choice":
                for choice in item.choices:
                    self.add(column_name(item.id, str(choice.value), sep="___"), item.id,
                             f"{item.text} — {choice.label}", "checkbox", "1, chosen | 0, not chosen",
                             self.chosen(item.id, choice.value))
            elif item.type == "yes_no":
                self.add(name, item.id, item.text, "yes_no", "1, yes | 0, no", self.yes_no(item.id))
            else:
                choices = choice_list((c.value, c.label) for c in item.choices)
                detail = "" if choices or item.unit is None else f"unit: {item.unit}"
                self.add(name, item.id, item.text, item.type, choices or detail, self.plain(item.id))

    def computed_columns(self) -> None:
        for computed in self.qs.computed.values():
            self.add(column_name(computed.id), computed.id, f"{computed.label} (computed from the answers)", "computed",
                     f"unit: {computed.unit}" if computed.unit else "", self.stored("computed", computed.id))

    def score_columns(self) -> None:
        for score_id, score in self.qs.scores.items():
            label = score.label or score_id
            categories = getattr(score, "categories", None)  # a categorical score's value is one of these
            if categories is not None:
                self.add(column_name(score_id, "score"), score_id, f"{label}: result (empty if incomplete)",
                         "category", " | ".join(dict.fromkeys(value for value, _ in categories)),
                         self.score(score_id, "value"))
            else:
                self.add(column_name(score_id, "score"), score_id, f"{label}: score (empty if incomplete)", "score",
                         "", self.score(score_id, "value"))
            if score.bands is not None:
                self.add(column_name(score_id, "band"), score_id, f"{label}: band", "band",
                         " | ".join(score.bands.labels_in_order), self.score(score_id, "band"))

    def flag_columns(self, rule_ids: list[str]) -> None:
        self.add("highest_severity", "", "The most severe flag raised (empty: none)", "severity",
                 " | ".join(SEVERITIES), lambda r, a: (r.result.get("flags") or [{}])[0].get("severity", ""))
        for severity in SEVERITIES:
            self.add(f"{severity}_flags", "", f"Number of '{severity}' flags raised", "integer", "",
                     lambda r, a, s=severity: sum(1 for f in r.result.get("flags") or [] if f["severity"] == s))
        for rule_id in rule_ids:
            self.add(column_name("flag", rule_id, sep="___"), rule_id, f"Rule '{rule_id}' raised a flag", "checkbox",
                     "1, raised | 0, not raised",
                     lambda r, a, rid=rule_id: int(any(f["rule"] == rid for f in r.result.get("flags") or [])))

    @staticmethod
    def chosen(item_id: str, value: Any):
        return lambda r, a: "" if item_id not in a else int(value in a[item_id])

    @staticmethod
    def yes_no(item_id: str):
        return lambda r, a: "" if item_id not in a else int(a[item_id])

    @staticmethod
    def plain(item_id: str):
        return lambda r, a: "" if item_id not in a else encode_answer(a[item_id])

    @staticmethod
    def score(score_id: str, key: str):
        def cell(record: SubmissionRecord, answers: dict) -> Any:
            value = ((record.result.get("scores") or {}).get(score_id) or {}).get(key)
            return "" if value is None else value
        return cell

    @staticmethod
    def stored(part: str, key: str):
        def cell(record: SubmissionRecord, answers: dict) -> Any:
            value = (record.result.get(part) or {}).get(key)
            return "" if value is None else value
        return cell


def columns(qs: QuestionSet, rule_ids: list[str]) -> list[Column]:
    return _Columns(qs, rule_ids).columns


def _csv_text(rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def data_csv(qs: QuestionSet, records: list[SubmissionRecord], rule_ids: list[str]) -> str:
    cols = columns(qs, rule_ids)
    rows: list[list[Any]] = [[c.name for c in cols]]
    for record in records:
        answers = record.visible_answers(qs)
        rows.append([c.value(record, answers) for c in cols])
    return _csv_text(rows)


def dictionary_csv(qs: QuestionSet, rule_ids: list[str]) -> str:
    return _csv_text([DICTIONARY_HEADER, *([c.name, c.source_id, c.text, c.type, c.choices]
                                            for c in columns(qs, rule_ids))])


def export_zip(qs: QuestionSet, version: int, records: list[SubmissionRecord],
               rule_ids: list[str]) -> tuple[str, bytes]:
    """(file name, zip bytes) holding ``<set>-v<n>-submissions.csv`` and ``<set>-v<n>-dictionary.csv``
    (UTF-8 with a byte-order mark, so spreadsheet programs read accents right)."""
    stem = f"{qs.id}-v{version}"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}-submissions.csv", data_csv(qs, records, rule_ids).encode("utf-8-sig"))
        archive.writestr(f"{stem}-dictionary.csv", dictionary_csv(qs, rule_ids).encode("utf-8-sig"))
    return f"{stem}-submissions.zip", out.getvalue()
