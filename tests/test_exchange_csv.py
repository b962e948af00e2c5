"""CSV export: one row per submission of one question-set version, its data dictionary, formula
injection guarded, admins only, every export audited."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile

from screening.content import default_question_set_path
from screening.exchange.csv_export import data_csv, dictionary_csv, safe_cell
from screening.exchange.records import SubmissionRecord
from screening.questions import load_question_set
from test_admin_support import admin_client, audit_events  # noqa: F401
from test_clinician_support import (case_answers, clinician, clinician_client, make_submission,  # noqa: F401
                                    staff_app)

EXPORT = "/admin/question-sets/ketamine-intake/versions/1/submissions.zip"


def read_zip(data: bytes) -> tuple[list[dict], list[dict], list[str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = sorted(archive.namelist())
        texts = {name: archive.read(name).decode("utf-8-sig") for name in names}
    rows = list(csv.DictReader(io.StringIO(texts["ketamine-intake-v1-submissions.csv"])))
    dictionary = list(csv.DictReader(io.StringIO(texts["ketamine-intake-v1-dictionary.csv"])))
    header = next(csv.reader(io.StringIO(texts["ketamine-intake-v1-submissions.csv"])))
    return rows, dictionary, header


def test_an_admin_exports_one_row_per_submission_with_a_matching_dictionary(staff_app, admin_client):
    suitable = case_answers("01-suitable-candidate.json")
    flagged = case_answers("07-several-review-flags.json")
    first = make_submission(staff_app, suitable, ref="MRN-1", language="es")
    second = make_submission(staff_app, flagged, ref="MRN-2")
    response = admin_client.get(EXPORT)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert 'filename="ketamine-intake-v1-submissions.zip"' in response.headers["Content-Disposition"]
    rows, dictionary, header = read_zip(response.data)

    assert [d["column"] for d in dictionary] == header
    assert len(set(header)) == len(header)
    assert [r["submission_id"] for r in rows] == [str(first), str(second)]
    assert [r["clinic_ref"] for r in rows] == ["MRN-1", "MRN-2"]
    assert [r["language"] for r in rows] == ["es", "en"]
    by_column = {d["column"]: d for d in dictionary}
    assert by_column["phq9_1"]["choices"].startswith("0, Not at all | 1, Several days")
    assert by_column["consent_given"]["choices"] == "1, yes | 0, no"
    assert by_column["language"] == {"column": "language", "source_id": "", "type": "language",
                                     "text": "The language the patient answered in",
                                     "choices": "en, English | es, Spanish"}
    assert header.index("language") < header.index("consent_given")

    qs = load_question_set(default_question_set_path)
    for score_id, score in qs.scores.items():  # bands in the order the set declares them, lowest first
        if score.bands is not None:
            declared = [b.label for _, bands in score.bands.options for b in bands]
            assert by_column[f"{score_id}_band"]["choices"].split(" | ") == list(dict.fromkeys(declared))
        if getattr(score, "categories", None) is not None:  # the ASQ's result is one of its categories
            assert by_column[f"{score_id}_score"]["type"] == "category"
            assert by_column[f"{score_id}_score"]["choices"].split(" | ") == [v for v, _ in score.categories]
    assert by_column["phq9_band"]["choices"].startswith("minimal | mild | moderate")
    medications = qs.items["medications"]
    columns = [f"medications___{c.value}" for c in medications.choices]
    assert all(by_column[c]["type"] == "checkbox" and by_column[c]["source_id"] == "medications" for c in columns)
    for row, answers in zip(rows, (suitable, flagged)):
        chosen = set(answers.get("medications", []))
        assert {c for c in columns if row[c] == "1"} == {f"medications___{v}" for v in chosen}
        assert row["phq9_1"] == str(answers["phq9_1"])
        assert row["consent_given"] == ("1" if answers["consent_given"] else "0")

    with staff_app.app_context():
        from screening.db import db
        from screening.models import Submission
        stored = [db.session.get(Submission, ident).result for ident in (first, second)]
    for row, result in zip(rows, stored):
        assert row["phq9_score"] == str(result["scores"]["phq9"]["value"])
        assert row["age"] == str(result["computed"]["age"]) and row["bmi"] == str(result["computed"]["bmi"])
        assert row["phq9_band"] == result["scores"]["phq9"]["band"]
        fired = {flag["rule"] for flag in result["flags"]}
        flag_columns = [c for c in header if c.startswith("flag___")]
        assert {c[len("flag___"):] for c in flag_columns if row[c] == "1"} == {r.replace("-", "_") for r in fired}
        assert row["highest_severity"] == (result["flags"][0]["severity"] if result["flags"] else "")
    assert audit_events(staff_app, "export.")[-1][1:] == ("export.csv", "question_set:ketamine-intake",
                                                          {"version": 1, "submissions": 2})


def test_a_question_not_shown_is_an_empty_cell_not_a_no():
    qs = load_question_set(default_question_set_path)
    answers = dict(case_answers("01-suitable-candidate.json"), dep_diagnosed=False, ad_trials=3)
    record = SubmissionRecord(1, datetime.datetime(2026, 6, 1), answers, {"scores": {}, "flags": []},
                              qs.id, 1)
    row = next(csv.DictReader(io.StringIO(data_csv(qs, [record], []))))
    assert row["dep_diagnosed"] == "0" and row["ad_trials"] == ""


def test_free_text_that_a_spreadsheet_would_run_is_neutralised():
    qs = load_question_set(default_question_set_path)
    payloads = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "fine"]
    records = [SubmissionRecord(n, datetime.datetime(2026, 6, 1), dict(case_answers("01-suitable-candidate.json"),
                                                                      medications_other=text),
                                {"scores": {}, "flags": []}, qs.id, 1, clinic_ref=text)
               for n, text in enumerate(payloads, start=1)]
    rows = list(csv.DictReader(io.StringIO(data_csv(qs, records, []))))
    for row, text in zip(rows, payloads):
        expected = text if text == "fine" else "'" + text
        assert row["clinic_ref"] == expected
        assert row["medications_other"] == expected
    assert safe_cell(-3) == -3 and safe_cell("-3") == "'-3"
    for row in csv.DictReader(io.StringIO(dictionary_csv(qs, []))):
        assert not row["text"].startswith(("=", "+", "-", "@"))


def test_clinicians_cannot_export_and_nothing_is_audited(staff_app, clinician_client):
    assert clinician_client.get(EXPORT).status_code == 403
    assert clinician_client.get("/admin/question-sets/ketamine-intake/versions/1/questionnaire.json").status_code == 403
    assert staff_app.test_client().get(EXPORT).status_code == 302
    assert not audit_events(staff_app, "export.")
