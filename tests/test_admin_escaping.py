"""Admin-written text is data, never markup: a script tag in a question's text (and in a rule's message)
shows as text on the patient's page, the admin pages, the clinician's summary and in the PDF."""

from __future__ import annotations

import io

from pypdf import PdfReader

from intake_helpers import invite, open_link, page
from test_admin_support import QS_PAGE, RS_PAGE, admin_client, click, submit  # noqa: F401
from test_clinician_support import case_answers, make_submission, staff_app  # noqa: F401

SCRIPT = "<script>alert(1)</script>"
QUESTION = f"{SCRIPT} Do you agree to answer these questions?"
MESSAGE = f"Aneurysm reported. <img src=x onerror=alert(2)> {SCRIPT} Check the records."


def test_a_script_tag_in_admin_text_is_shown_as_text_everywhere(staff_app, admin_client):
    item = f"{QS_PAGE}/items/consent_given"
    assert submit(admin_client, item, item, {"text": QUESTION, "help": "<b>not bold</b>"}).status_code == 303
    rule = f"{RS_PAGE}/rules/vascular-contraindication"
    assert submit(admin_client, rule, rule, {"message": MESSAGE}).status_code == 303

    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in (QS_PAGE, item, f"{QS_PAGE}/preview", f"{QS_PAGE}/yaml", f"{RS_PAGE}", rule):
        text = page(admin_client.get(path))
        assert SCRIPT not in text and escaped in text, path
    assert click(admin_client, QS_PAGE, f"{QS_PAGE}/publish").status_code == 303
    assert click(admin_client, RS_PAGE, f"{RS_PAGE}/publish").status_code == 303
    diff = page(admin_client.get(f"{QS_PAGE}/diff?a=1&b=2"))
    assert SCRIPT not in diff and escaped in diff

    # The patient's page.
    _, token = invite(staff_app)
    patient = staff_app.test_client()
    open_link(patient, token)
    text = page(patient.get("/intake/section/consent"))
    assert SCRIPT not in text and "<b>not bold</b>" not in text
    assert f"{escaped} Do you agree to answer these questions?" in text and "&lt;b&gt;not bold&lt;/b&gt;" in text

    # The clinician's summary (HTML) and the PDF, for a submission on the new versions.
    sid = make_submission(staff_app, case_answers("02-exclude-vascular.json"))
    summary = page(admin_client.get(f"/staff/submissions/{sid}"))
    assert SCRIPT not in summary and "<img src=x" not in summary
    assert escaped in summary and "&lt;img src=x onerror=alert(2)&gt;" in summary
    pdf = admin_client.get(f"/staff/submissions/{sid}/summary.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    words = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert QUESTION in words
    assert "<img src=x onerror=alert(2)> <script>alert(1)</script> Check the records." in words
