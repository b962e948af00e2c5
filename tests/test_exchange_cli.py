"""The exchange commands: export-fhir questionnaire|submission, import-fhir, export-csv."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire

from screening import publishing
from test_admin_support import audit_events
from test_clinician_support import case_answers, make_submission, staff_app  # noqa: F401


def run(app, *args):
    return app.test_cli_runner().invoke(args=[str(a) for a in args])


def test_export_a_questionnaire_import_it_back_and_export_csv_and_a_bundle(staff_app, tmp_path):
    target = tmp_path / "q.json"
    result = run(staff_app, "export-fhir", "questionnaire", "ketamine-intake", "-o", target)
    assert result.exit_code == 0, result.output
    assert Questionnaire.model_validate_json(target.read_text()).version == "1"

    result = run(staff_app, "import-fhir", target)
    assert result.exit_code == 0, result.output
    assert "'ketamine-intake-fhir'" in result.output
    with staff_app.app_context():
        assert publishing.get_draft("question_set", "ketamine-intake-fhir") is not None

    ident = make_submission(staff_app, case_answers("01-suitable-candidate.json"))
    result = run(staff_app, "export-fhir", "submission", ident)
    assert result.exit_code == 0, result.output
    Bundle.model_validate(json.loads(result.stdout))

    archive = tmp_path / "out.zip"
    result = run(staff_app, "export-csv", "ketamine-intake", "--version", 1, "-o", archive)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(archive) as opened:
        text = opened.read("ketamine-intake-v1-submissions.csv").decode("utf-8-sig")
    assert [row["submission_id"] for row in csv.DictReader(io.StringIO(text))] == [str(ident)]
    assert [e[:2] for e in audit_events(staff_app, "export.")] == [
        ("cli", "export.fhir_questionnaire"), ("cli", "export.fhir_submission"), ("cli", "export.csv")]


def test_bad_input_gets_one_clear_line_and_exit_1(staff_app, tmp_path):
    assert "no published question set 'nope'" in run(staff_app, "export-fhir", "questionnaire", "nope").output
    assert run(staff_app, "export-csv", "ketamine-intake", "--version", 7, "-o", tmp_path / "x.zip").exit_code == 1
    assert "no submission 42" in run(staff_app, "export-fhir", "submission", 42).output
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "a", "type": "url", "text": "A"}]}')
    result = run(staff_app, "import-fhir", bad)
    assert result.exit_code == 1 and "item 'a': type 'url' is not supported" in result.output
    assert "no such file" in run(staff_app, "import-fhir", tmp_path / "missing.json").output
