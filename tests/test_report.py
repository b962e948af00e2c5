"""The summary as HTML and PDF: one template, the PDF's text, storage at submission, the locked-down fetcher."""

from __future__ import annotations

import datetime
import html as html_lib
import io
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from flask import render_template
from pypdf import PdfReader
from sqlalchemy import select

from screening.db import db
from screening.invitations import create_invitation
from screening.models import Submission
from screening.report import pdf as pdf_module
from screening.report.summary import summary_for_submission
from screening.submissions import submit_intake
from test_clinician_support import (case_answers, clinician, clinician_client, csrf_from, make_submission,  # noqa: F401
                                    staff_app)


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def web_server():
    """A local HTTP server that records every request it gets (there must be none)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


# -- one template ------------------------------------------------------------------------------

def test_html_page_and_pdf_document_embed_the_same_summary(staff_app, clinician_client):
    sid = make_submission(staff_app, case_answers("07-several-review-flags.json"), name="Tess Template")
    page = clinician_client.get(f"/staff/submissions/{sid}").get_data(as_text=True)
    with staff_app.app_context():
        summary = summary_for_submission(db.session.get(Submission, sid))
        fragment = render_template("report/summary.html", s=summary)
        document = pdf_module.summary_document(summary)
    assert len(fragment) > 5000 and "Tess Template" in fragment
    assert fragment in page
    assert fragment in document
    assert 'href="screening-asset:report.css"' in document


def test_summary_marks_unanswered_hidden_and_ignored_items(staff_app, clinician_client):
    incomplete = make_submission(staff_app, case_answers("12-incomplete-phq9.json"), name="In Complete")
    stale = make_submission(staff_app, case_answers("13-stale-hidden-answers.json"), name="St Ale")
    html = clinician_client.get(f"/staff/submissions/{incomplete}").get_data(as_text=True)
    row = re.search(r'<tr class="ans-unanswered">.*?phq9_7.*?</tr>', html, re.S).group(0)
    assert "Not answered" in row and "(required)" in row
    # Questions an earlier answer hid get no row of their own: one "Not asked" line lists them.
    assert '<tr class="ans-hidden">' not in html
    not_asked = re.findall(r'<p class="not-asked">(.*?)</p>', html, re.S)
    assert any("Not asked" in line and "pcptsd_1, pcptsd_2" in line for line in not_asked), not_asked
    assert "Have you had nightmares about the event(s)" not in html  # pcptsd_1's question
    assert "INCOMPLETE" in html and "not scored" in html
    html = clinician_client.get(f"/staff/submissions/{stale}").get_data(as_text=True)
    assert '<tr class="ans-hidden_ignored">' in html and "an earlier answer was ignored" in html


# -- the PDF -----------------------------------------------------------------------------------

def test_pdf_text_has_identity_flags_because_scores_and_versions(staff_app, clinician_client, clinician):
    answers = case_answers("07-several-review-flags.json")
    sid = make_submission(staff_app, answers, name="Paula Pdf", dob=datetime.date(1981, 12, 12), ref="MRN-42")
    response = clinician_client.get(f"/staff/submissions/{sid}/summary.pdf?download=1")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="screening-summary-{sid}.pdf"'
    assert "Paula" not in response.headers["Content-Disposition"]
    pages = pdf_pages(response.data)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):  # identity and page numbers on every page
        assert "Paula Pdf · born 1981-12-12 · ref MRN-42" in text, number
        assert f"Page {number} of {len(pages)}" in text, number
        assert "Submitted " in text
    first = pages[0]
    assert "At a glance" in first and "REVIEW" in first and "Flags by severity" in first
    assert "asq-non-acute-positive" in first and "PHQ-9 17 of 27, moderately severe" in first
    everything = "\n".join(pages)
    with staff_app.app_context():
        result = db.session.get(Submission, sid).result
    for flag in result["flags"]:
        assert flag["rule"] in everything
        assert squash(flag["message"])[:80] in squash(everything)
        assert squash(flag["source"]) in squash(everything)
    assert "What was the top number of your last blood pressure reading?" in everything and "162 mmHg" in everything
    for score in ("PHQ-9", "GAD-7", "ASQ", "PC-PTSD-5", "AUDIT-C"):
        assert score in everything
    assert "13 of 21" in everything and "moderate" in everything and "non-acute positive" in everything
    for part in ("question_set", "rule_set"):
        assert result[part]["id"] in everything
        assert squash(result[part]["content_hash"]) in squash(everything)
    assert squash("Kroenke K, Spitzer RL, Williams JBW") in squash(everything)  # instrument citations
    assert "Answers by section" in everything and "Not asked" in everything
    assert [e.action for e in _events(staff_app) if e.action == "submission.pdf_viewed"] == ["submission.pdf_viewed"]


def _events(app):
    from screening.models import AuditEvent

    with app.app_context():
        return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def test_pdf_is_rendered_at_submission_stored_and_rerendered_when_missing(staff_app, clinician_client,
                                                                          monkeypatch):
    staff_app.config["REPORT_RENDER_ON_SUBMIT"] = True
    sid = make_submission(staff_app, case_answers("02-exclude-vascular.json"), name="Stored Stan")
    with staff_app.app_context():
        stored = db.session.get(Submission, sid)
        assert stored.pdf.startswith(b"%PDF-") and stored.pdf_rendered_at is not None
        stored_bytes = stored.pdf
    assert "vascular-contraindication" in pdf_pages(stored_bytes)[0]

    calls = []
    real = pdf_module.render_pdf
    monkeypatch.setattr(pdf_module, "render_pdf", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert clinician_client.get(f"/staff/submissions/{sid}/summary.pdf").data == stored_bytes
    assert calls == []  # served from storage, not rendered again
    with staff_app.app_context():
        db.session.get(Submission, sid).pdf = None
        db.session.commit()
    again = clinician_client.get(f"/staff/submissions/{sid}/summary.pdf")
    assert again.data.startswith(b"%PDF-") and calls == [1]
    with staff_app.app_context():
        assert db.session.get(Submission, sid).pdf == again.data  # and stored again


def test_the_patients_send_does_not_wait_for_the_pdf(staff_app, monkeypatch):
    """The PDF is rendered after the response to "Send my answers", outside that request, and stored."""
    from flask import has_request_context

    from intake_helpers import complete_intake, hidden_value, invite, open_link, page

    staff_app.config["REPORT_RENDER_ON_SUBMIT"] = True
    renders = []
    real = pdf_module.render_pdf
    monkeypatch.setattr(pdf_module, "render_pdf",
                        lambda *a, **k: renders.append(has_request_context()) or real(*a, **k))
    intake_id, token = invite(staff_app, patient_name="After Response")
    client = staff_app.test_client()
    open_link(client, token)
    complete_intake(client, submit=False)
    review = page(client.get("/intake/review"))
    response = client.post("/intake/review", data={"csrf_token": hidden_value(review, "csrf_token")})
    assert response.status_code == 303 and renders == []  # the patient's answer is ready, no PDF yet
    response.close()  # what the WSGI server does once the response is sent
    assert renders == [False]  # once, and outside the patient's request
    with staff_app.app_context():
        stored = db.session.scalar(select(Submission).where(Submission.intake_id == intake_id))
        assert stored.pdf.startswith(b"%PDF-") and stored.pdf_rendered_at is not None
    assert "After Response" in pdf_pages(stored.pdf)[0]


def test_render_pending_pdfs_renders_every_missing_pdf_once(staff_app):
    first = make_submission(staff_app, case_answers("01-suitable-candidate.json"), name="Pen Ding")
    second = make_submission(staff_app, case_answers("02-exclude-vascular.json"), name="Also Pending", ref="MRN-2")
    runner = staff_app.test_cli_runner()
    result = runner.invoke(args=["render-pending-pdfs"])
    assert result.exit_code == 0 and "Rendered 2 PDF(s); 0 failed." in result.output
    with staff_app.app_context():
        for sid, name in ((first, "Pen Ding"), (second, "Also Pending")):
            assert name in pdf_pages(db.session.get(Submission, sid).pdf)[0]
    again = runner.invoke(args=["render-pending-pdfs"])
    assert again.exit_code == 0 and "Rendered 0 PDF(s)" in again.output


def test_a_render_failure_never_loses_the_submission(staff_app, monkeypatch, caplog):
    staff_app.config["REPORT_RENDER_ON_SUBMIT"] = True

    def broken(summary, fetcher=None):
        raise RuntimeError(f"layout exploded for {summary.patient.name}")

    monkeypatch.setattr(pdf_module, "render_pdf", broken)
    with staff_app.app_context():
        intake, _ = create_invitation("Fay Failure", None, "F-1")
        intake.answers = case_answers("01-suitable-candidate.json")
        db.session.commit()
        submission = submit_intake(intake)
        assert submission.id is not None
        db.session.expire_all()
        kept = db.session.get(Submission, submission.id)
        assert kept is not None and kept.pdf is None and kept.intake.state == "submitted"
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"submission {submission.id}" in m and "RuntimeError" in m for m in messages)
    assert not any("Fay Failure" in m for m in messages)


# -- the fetcher -------------------------------------------------------------------------------

def test_fetcher_serves_bundled_assets_and_refuses_everything_else(web_server):
    from weasyprint.urls import URLFetchingError

    from screening.report.fetcher import AssetFetcher

    base, hits = web_server
    fetcher = AssetFetcher()
    response = fetcher.fetch("screening-asset:report.css")
    assert b"@page" in response.read() and response.content_type == "text/css"
    refused = ["file:///etc/passwd", "FILE:///etc/hostname", f"{base}/secret", f"{base.replace('http', 'https')}/x",
               "data:text/css,body{}", "ftp://127.0.0.1/x", "screening-asset:../summary.py",
               "screening-asset:/etc/passwd", "screening-asset:%2e%2e/summary.py", "screening-asset:missing.css",
               "report.css", "//127.0.0.1/x"]
    for url in refused:
        with pytest.raises(URLFetchingError):
            fetcher.fetch(url)
    assert hits == []
    assert fetcher.refused == refused


def test_urls_planted_in_answers_are_printed_as_text_and_never_fetched(staff_app, web_server):
    from screening.report.fetcher import AssetFetcher

    base, hits = web_server
    planted = (f'<img src="file:///etc/passwd"> <link rel="attachment" href="{base}/attach"> '
               f'<img src="{base}/pixel.png"> <a rel="attachment" href="file:///etc/hostname">x</a>')
    answers = case_answers("01-suitable-candidate.json")
    answers["medications_other"] = planted
    sid = make_submission(staff_app, answers, name=f'<img src="{base}/name.png">Eve')
    with staff_app.app_context():
        summary = summary_for_submission(db.session.get(Submission, sid))
        # Escaped: the markup is text, so the renderer asks for nothing but its stylesheet.
        fetcher = AssetFetcher()
        data = pdf_module.render_pdf(summary, fetcher=fetcher)
        assert fetcher.served == ["screening-asset:report.css"] and fetcher.refused == []
        text = "\n".join(pdf_pages(data))
        assert squash('<img src="file:///etc/passwd">') in squash(text)  # printed as text (wrapped in its column)
        assert squash(f'<img src="{base}/name.png">Eve') in squash(text)
        # Even if the markup reached the renderer unescaped, the fetcher refuses file: and http:.
        from weasyprint import HTML

        live = html_lib.unescape(pdf_module.summary_document(summary))
        assert '<img src="file:///etc/passwd">' in live
        fetcher = AssetFetcher()
        live_pdf = HTML(string=live, base_url=None, url_fetcher=fetcher).write_pdf()
    assert "file:///etc/passwd" in fetcher.refused and f"{base}/attach" in fetcher.refused
    assert f"{base}/pixel.png" in fetcher.refused and f"{base}/name.png" in fetcher.refused
    assert hits == []  # the web server was never contacted
    reader = PdfReader(io.BytesIO(live_pdf))
    assert not reader.attachments
    assert "root:x:0:0" not in "".join(p.extract_text() or "" for p in reader.pages)


# -- the command -------------------------------------------------------------------------------

def test_render_pdf_command(staff_app, tmp_path):
    import json

    case = json.loads((__import__("pathlib").Path(__file__).parent / "cases" / "02-exclude-vascular.json").read_text())
    answers_file = tmp_path / "answers.json"
    answers_file.write_text(json.dumps({"question_set": case["question_set"], "as_of": case["as_of"],
                                        "answers": case["answers"]}))
    out = tmp_path / "summary.pdf"
    runner = staff_app.test_cli_runner()
    result = runner.invoke(args=["render-pdf", str(answers_file), "-o", str(out), "--clinic-ref", "CLI-1"])
    assert result.exit_code == 0, result.output
    pages = pdf_pages(out.read_bytes())
    assert "vascular-contraindication" in pages[0] and "bp-elevated" in pages[0]
    assert all("ref CLI-1" in p and "Not submitted: rendered from answers.json" in p for p in pages)
    assert "Ages computed on 2026-03-15" in pages[0]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"question_set": "ketamine-intake", "answers": {"phq9_1": 9}}))
    failed = runner.invoke(args=["render-pdf", str(bad), "-o", str(tmp_path / "x.pdf")])
    assert failed.exit_code == 1 and "phq9_1" in failed.output
    assert not (tmp_path / "x.pdf").exists()
    missing = runner.invoke(args=["render-pdf", str(tmp_path / "nope.json"), "-o", str(tmp_path / "y.pdf")])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_weasyprint_is_not_imported_by_the_web_app(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from screening import create_app; "
            f"create_app({{'TESTING': True, 'INSTANCE_PATH': {str(tmp_path)!r}, 'SECRET_KEY': 'k'}}); "
            "print('weasyprint' in sys.modules)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"


def test_pdf_that_cannot_be_rendered_sends_the_clinician_to_the_html_summary(staff_app, clinician_client,
                                                                            monkeypatch, caplog):
    sid = make_submission(staff_app, case_answers("01-suitable-candidate.json"), name="Nell Nopdf")

    def broken(summary, fetcher=None):
        raise OSError("no fonts")

    monkeypatch.setattr(pdf_module, "render_pdf", broken)
    response = clinician_client.get(f"/staff/submissions/{sid}/summary.pdf")
    assert response.status_code == 302 and response.headers["Location"] == f"/staff/submissions/{sid}"
    page = clinician_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The PDF could not be made just now" in page and "Nell Nopdf" in page
    assert any(f"submission {sid}" in r.getMessage() and "OSError" in r.getMessage() for r in caplog.records)


def test_because_names_the_exact_answers_that_fired_each_flag():
    import json
    from pathlib import Path

    from screening.content import default_question_set_path, default_rule_set_path
    from screening.evaluation import evaluate
    from screening.questions import load_question_set
    from screening.report.summary import Patient, build_summary
    from screening.rules import load_rule_set

    qs = load_question_set(default_question_set_path)
    rs = load_rule_set(default_rule_set_path, qs)

    def facts(case):
        data = json.loads((Path(__file__).parent / "cases" / case).read_text())
        result = evaluate(qs, rs, data["answers"], datetime.date.fromisoformat(data["as_of"])).to_json()
        summary = build_summary(qs, result, data["answers"], Patient("X"))
        return {f.rule: [(x.label, x.answer, x.tests) for x in f.facts] for g in summary.groups for f in g.flags}

    young = facts("04-exclude-under-18.json")
    assert young["under-18"] == [("Age (computed from date_of_birth = 2008-03-16)", "17", ["age = 17 < 18"])]
    assert young["bp-missing"] == [(qs.items["bp_systolic"].text, "not answered", ["bp_systolic not answered"])]
    several = facts("07-several-review-flags.json")
    bladder_label = qs.items["medical_conditions"].choice_label("bladder_cystitis")
    # Of the two conditions chosen, only the one that fired the rule is named.
    assert several["bladder"] == [(qs.items["medical_conditions"].text, bladder_label,
                                   ["medical_conditions includes bladder_cystitis"])]
    # Two tests on one answer are shown once, with both tests.
    assert several["bp-uncontrolled"][0] == (qs.items["bp_systolic"].text, "162 mmHg",
                                             ["bp_systolic = 162 ≥ 160", "bp_systolic = 162 < 180"])
    assert several["phq9-item9"] == [(qs.items["phq9_9"].text, "Several days (1)", ["phq9_9 = 1 ≥ 1"])]
    assert several["ptsd-positive"][0][:2] == ("PC-PTSD-5 score", "4 of 5, positive")


def test_the_cyclic_collector_is_paused_only_while_a_pdf_is_laid_out():
    import gc

    seen = []
    with pdf_module.cyclic_gc_paused():
        seen.append(gc.isenabled())
    assert seen == [False] and gc.isenabled()
    with pytest.raises(RuntimeError):
        with pdf_module.cyclic_gc_paused():
            raise RuntimeError("a render that fails")
    assert gc.isenabled()  # a failed render never leaves the process without garbage collection
    gc.disable()
    try:
        with pdf_module.cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # a caller's own choice is left as it was
    finally:
        gc.enable()


def test_the_header_names_the_date_of_birth_the_patient_gave_when_the_invitation_has_none():
    import json
    from pathlib import Path

    from screening.content import default_question_set_path, default_rule_set_path
    from screening.evaluation import evaluate
    from screening.questions import load_question_set
    from screening.report.summary import Patient, build_summary
    from screening.rules import load_rule_set

    qs = load_question_set(default_question_set_path)
    rs = load_rule_set(default_rule_set_path, qs)
    data = json.loads((Path(__file__).parent / "cases" / "01-suitable-candidate.json").read_text())
    result = evaluate(qs, rs, data["answers"], datetime.date.fromisoformat(data["as_of"])).to_json()
    given = data["answers"]["date_of_birth"]

    without = build_summary(qs, result, data["answers"], Patient("Ann Example", clinic_ref="R-1"))
    assert without.patient.identity == f"Ann Example · born {given} (as the patient gave it) · ref R-1"
    assert without.dob_mismatch is None
    nameless = build_summary(qs, result, data["answers"], Patient(intake_id=7))
    assert nameless.patient.identity == f"Unnamed patient (intake 7) · born {given} (as the patient gave it)"
    on_invitation = build_summary(qs, result, data["answers"],
                                  Patient("Ann Example", datetime.date.fromisoformat(given), "R-1"))
    assert on_invitation.patient.identity == f"Ann Example · born {given} · ref R-1"
    other = build_summary(qs, result, data["answers"], Patient("Ann Example", datetime.date(1901, 1, 1), "R-1"))
    assert other.patient.identity == "Ann Example · born 1901-01-01 · ref R-1" and given in other.dob_mismatch
