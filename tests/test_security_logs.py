"""Measured property 8 (issue 7): a canary patient (name "Zzcanary Qqpatient", a medications answer
"ZZCANARY-ANSWER", a clinic reference, a clinician's review note, a mistyped password, the patient's link
token) taken through every flow appears 0 times in the logs, with every logger at DEBUG.

A full run of the whole suite with the canary in every test is not what is measured: instead one
representative end-to-end run goes through every flow with full logging, twice --

* in-process, the app served over HTTP by werkzeug on 127.0.0.1, every logger at DEBUG (the app's,
  werkzeug's request log, WeasyPrint's, Flask-Limiter's, Flask-WTF's ...), captured with ``caplog``;
* the app in gunicorn at ``--log-level debug`` with its access log and the root logger at DEBUG (or
  werkzeug's server with ``logging.basicConfig(level=DEBUG)`` if gunicorn is not installed), its whole
  output captured.

The flows: failed and successful staff sign-in, a refused and an accepted invitation form, the patient's
link, every page (with an answer that is not valid, the crisis-support page, a page posted after the
session ended and one with a stale CSRF token, the live "what shows" endpoint), review and submission (the
PDF is rendered at submission), the clinician's work list, summary, PDF, review note, new link and
revocation, a rate-limited run of link guesses, and a server error.

SQLAlchemy's own SQL trace (``sqlalchemy.engine`` at INFO, i.e. ``SQLALCHEMY_ECHO``) prints every
statement's parameters by design; it stays at its library default (WARNING) here, like the other library
default levels. What it would print is counted separately (``sql_trace_*``) and SECURITY.md says never to
turn it on in production.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager

from werkzeug.serving import make_server

from intake_helpers import GOOD_PAGES
from security_helpers import AppServer, HttpClient, csrf_of, http_intake, record_measure
from test_clinician_support import PASSWORD, make_user

CANARY_NAME = "Zzcanary Qqpatient"
CANARY_ANSWER = "ZZCANARY-ANSWER"
CANARY_REF = "ZZCANARY-REF-77"
CANARY_NOTE = "ZZCANARY-NOTE about the patient"
CANARY_PASSWORD = "ZZCANARY-PASSWORD-not-it"
CANARY_PATTERN = re.compile(r"zzcanary|qqpatient", re.I)


def canary_pages() -> list[tuple[str, dict]]:
    pages = [(section, dict(answers)) for section, answers in GOOD_PAGES]
    for section, answers in pages:
        if section == "medications":
            answers["medications_other"] = f"{CANARY_ANSWER} 25 mg at night"
        if section == "suicide_risk":  # a positive screen: the crisis-support page comes next
            answers.update(asq_1="yes", asq_5="no")
    return pages


@contextmanager
def every_logger_at_debug():
    import flask_limiter  # noqa: F401 - loggers that set their own level on import, before we lower it
    import weasyprint  # noqa: F401

    manager = logging.root.manager
    saved = {name: logger.level for name, logger in manager.loggerDict.items() if isinstance(logger, logging.Logger)}
    saved_root = logging.root.level
    for name in saved:
        if not name.startswith("sqlalchemy"):
            logging.getLogger(name).setLevel(logging.DEBUG)
    logging.root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logging.root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def occurrences(text: str, secrets: list[str]) -> int:
    return len(CANARY_PATTERN.findall(text)) + sum(text.count(s) for s in secrets if s)


def every_flow(base: str, token_holder: dict) -> dict:
    """Drive every flow over HTTP against the server at ``base``; returns what was exercised."""
    done = {}
    anon = HttpClient(base)
    # Staff sign-in: a wrong password, then the right one.
    page = anon.get("/sign-in")
    failed = anon.post("/sign-in", {"csrf_token": csrf_of(page.text), "email": "clin@example.org",
                                    "password": CANARY_PASSWORD})
    done["failed_sign_in"] = failed.status_code
    staff = HttpClient(base)
    page = staff.get("/sign-in")
    assert staff.post("/sign-in", {"csrf_token": csrf_of(page.text), "email": "clin@example.org",
                                   "password": PASSWORD}).status_code == 302
    token = csrf_of(staff.get("/staff/invitations/new").text)
    # A refused invitation form, then the real one.
    done["invitation_refused"] = staff.post("/staff/invitations/new", {
        "csrf_token": token, "patient_name": CANARY_NAME * 20, "clinic_ref": CANARY_REF,
        "patient_dob": "2999-01-01"}).status_code
    made = staff.post("/staff/invitations/new", {"csrf_token": token, "patient_name": CANARY_NAME,
                                                   "clinic_ref": CANARY_REF, "patient_dob": "1980-07-31"})
    link = re.search(r"/i/([A-Za-z0-9_-]{20,})", made.text).group(1)
    token_holder["link"] = link
    other = staff.post("/staff/invitations/new", {"csrf_token": token, "patient_name": CANARY_NAME + " Two",
                                                    "clinic_ref": CANARY_REF + "-2"})
    other_id = re.search(r"Invitation no\. (\d+)", other.text).group(1)
    # The patient: a wrong value, a stale token, a page after the session ended, the live endpoint.
    patient = HttpClient(base)
    assert patient.get(f"/i/{link}").status_code == 303
    page = patient.get("/intake/section/consent")
    from intake_helpers import form_controls

    controls = form_controls(page.text)
    done["visibility"] = patient.post("/intake/section/consent/visibility", {
        **controls, "consent_given": CANARY_ANSWER}).status_code
    done["invalid_answer"] = patient.post("/intake/section/consent", {
        **controls, "consent_given": CANARY_ANSWER, "escort_available": "yes", "_action": "next"}).status_code
    done["stale_csrf"] = patient.post("/intake/section/consent", {
        **controls, "csrf_token": "stale-" + CANARY_ANSWER, "consent_given": "yes", "_action": "next"}).status_code
    done["session_ended"] = HttpClient(base).post("/intake/section/consent", {
        **controls, "consent_given": "yes", "medications_other": CANARY_ANSWER, "_action": "next"}).status_code
    # Every page, the crisis-support page, review and submission (the PDF is rendered then).
    seen = []
    http_intake(patient, link, canary_pages(), on_ack=lambda section, answers: seen.append(section))
    done["pages_saved"] = len([section for section in seen if section != "review"])
    done["submitted"] = "review" in seen
    # The clinician: work list, summary, PDF, review note, a new link and a revocation.
    worklist = staff.get("/staff/?review=all")
    submission_id = re.search(r"/staff/submissions/(\d+)", worklist.text).group(1)
    done["summary"] = staff.get(f"/staff/submissions/{submission_id}").status_code
    done["pdf"] = staff.get(f"/staff/submissions/{submission_id}/summary.pdf").status_code
    done["review"] = staff.post(f"/staff/submissions/{submission_id}/review",
                                {"csrf_token": token, "note": CANARY_NOTE}).status_code
    done["new_link"] = staff.post(f"/staff/invitations/{other_id}/new-link", {"csrf_token": token}).status_code
    done["revoke"] = staff.post(f"/staff/invitations/{other_id}/revoke", {"csrf_token": token}).status_code
    done["invitations"] = staff.get("/staff/invitations").status_code
    # An id no database can hold, with the canary in the form (a 500 before bug B1 was fixed), and link
    # guesses until rate-limited.
    done["server_error"] = staff.post(f"/staff/invitations/{'9' * 20}/revoke",
                                      {"csrf_token": token, "note": CANARY_NOTE}).status_code
    done["link_guesses"] = sorted({HttpClient(base).get(f"/i/{link[:-4]}{n:04d}").status_code for n in range(25)})
    return done


def test_canary_patient_never_reaches_the_logs_in_process(app, caplog, request):
    app.config.update(PASSWORD_HASH_METHOD="scrypt:1024:8:1", REPORT_RENDER_ON_SUBMIT=True,
                      PATIENT_LINK_LIMIT_PER_ADDRESS="20 per 10 minutes")
    make_user(app, "clin@example.org", "clinician")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    holder: dict = {}
    with every_logger_at_debug():
        caplog.set_level(logging.DEBUG)
        thread.start()
        try:
            done = every_flow(f"http://127.0.0.1:{server.server_port}", holder)
        finally:
            server.shutdown()
            server.server_close()
        records = list(caplog.records)
    texts = []
    for record in records:
        text = record.getMessage() + " " + repr(record.args) + " " + (record.exc_text or "")
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        texts.append((record.name, text))
    found = [(name, text[:200]) for name, text in texts if occurrences(text, [holder.get("link")])]
    loggers = sorted({name.split(".")[0] for name, _ in texts})
    record_measure(request, "log_canary.in_process", records=len(records), loggers=",".join(loggers),
                   occurrences=len(found), flows=len(done))
    assert done["pages_saved"] == 12 and done["submitted"] and done["pdf"] == 200, done
    assert 429 in done["link_guesses"] and done["failed_sign_in"] == 400
    assert {"werkzeug", "weasyprint"} <= set(loggers), loggers
    assert found == [], found[:10]


def test_canary_patient_never_reaches_a_real_servers_logs(tmp_path, request):
    from screening import create_app
    from screening.accounts.auth import create_user
    from screening.db import db

    instance = tmp_path / "instance"
    setup = create_app({"INSTANCE_PATH": str(instance), "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"})
    with setup.app_context():
        create_user("clin@example.org", PASSWORD, "clinician")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    env = {"SCREENING_PASSWORD_HASH_METHOD": "scrypt:1024:8:1", "SCREENING_PATIENT_LINK_LIMIT_PER_ADDRESS":
           "20 per 10 minutes"}
    holder: dict = {}
    with AppServer(instance, env=env, workers=2, threads=4, debug_logs=True) as server:
        done = every_flow(server.base, holder)
    log = server.log_text()
    lines = log.splitlines()
    found = [line[:200] for line in lines if occurrences(line, [holder.get("link")])]
    access = sum(1 for line in lines if '"GET ' in line or '"POST ' in line)
    debug = sum(1 for line in lines if "DEBUG" in line)
    record_measure(request, "log_canary.server", server=server.kind, log_lines=len(lines), access_lines=access,
                   debug_lines=debug, occurrences=len(found), flows=len(done))
    assert done["pages_saved"] == 12 and done["submitted"] and done["pdf"] == 200, done
    assert access > 50 and debug > 10
    assert found == [], found[:10]


def test_what_the_sql_trace_would_print(app, caplog, request):
    """Not a leak of the app: the count that turning on SQLAlchemy's SQL trace (SQLALCHEMY_ECHO) would print."""
    from intake_helpers import complete_intake, invite, open_link

    app.config["REPORT_RENDER_ON_SUBMIT"] = False
    engine_logger = logging.getLogger("sqlalchemy.engine")
    saved = engine_logger.level
    engine_logger.setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            _, token = invite(app, patient_name=CANARY_NAME)
            client = app.test_client()
            open_link(client, token)
            complete_intake(client, canary_pages()[:1], submit=False)
            text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy"))
    finally:
        engine_logger.setLevel(saved)
    record_measure(request, "log_canary.sql_trace_if_enabled", occurrences=occurrences(text, []))
