"""Measured property 4 (issue 7): every route of ``app.url_map`` (but ``static``), with every method, filled
with real ids (the role's own intake, another patient's, a real submission) and with unknown ones, tried as
each of six roles: signed out, patient link A, patient link B, clinician, admin, and a disabled admin whose
session was live when the account was disabled. POSTs carry the role's own valid CSRF token, so access
control (not CSRF) is what has to refuse them.

Who may use what is written out below (``allowed``); a route the table does not know fails the test, so a
new route cannot slip in without a decision. Any ``/admin`` route is admin-only.

An *unexpected success* is a response, after following redirects, that is neither an error status nor a
refusal page (sign-in, "open the link your clinic sent you", "page not found", ...) for a role that
should be refused. Separately, no page a patient or an outsider gets may show another patient's name or
answers, and nothing of another patient may change.
"""

from __future__ import annotations

import html
import re

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from intake_helpers import GOOD_ANSWERS, form_controls, invite, open_link, page, set_answers
from screening.accounts.auth import issue_setup_token
from screening.db import db
from screening.models import Intake, User
from security_helpers import record_measure
from test_clinician_support import csrf_from, make_submission, make_user, sign_in

ROLES = ["signed_out", "patient_a", "patient_b", "clinician", "admin", "disabled"]
PATIENT_ROLES = ("patient_a", "patient_b")
STAFF = ("clinician", "admin")
UNKNOWN_ID = 987654

# Pages that refuse: what a role that may not use a route should end on.
REFUSAL_TITLES = {
    "This link does not work", "This link is no longer active", "Your answers have already been sent",
    "Your session has ended", "Please open the link from your clinic", "This page was not saved", "Page not found",
    "Sorry, the questionnaire is not available right now", "Staff sign-in", "This setup link is not valid",
    "This request could not be handled", "You cannot open this page", "This page cannot be used that way",
    "This page is no longer available", "Too many attempts", "This page had expired",
}
# A section page shown again without saving (no session, or another questionnaire's page).
UNSAVED_NOTICES = ("Your session has ended, so this page is not saved yet", "This page belongs to a different "
                   "questionnaire from the one that is open now, so it was not saved")

CANARIES = {
    "a": ("Alice Aacanary", "A-CANARY-ANSWER-7781"),
    "b": ("Bob Bbcanary", "B-CANARY-ANSWER-5523"),
    "c": ("Carol Cccanary", "C-CANARY-ANSWER-3307"),
}

RESULTS: dict[str, dict] = {}


# -- the world ---------------------------------------------------------------------------------------------

class World:
    pass


def build(app) -> World:
    app.config.update(PASSWORD_HASH_METHOD="scrypt:1024:8:1", REPORT_RENDER_ON_SUBMIT=False)
    w = World()
    w.app = app
    with app.app_context():
        w.setup_token = issue_setup_token()  # issued on the fresh install, dead once an account exists
        db.session.commit()
    make_user(app, "clin@example.org", "clinician")
    make_user(app, "admin@example.org", "admin")
    w.disabled_id = make_user(app, "gone@example.org", "admin")
    w.intake, w.token = {}, {}
    for key in ("a", "b"):
        name, answer = CANARIES[key]
        w.intake[key], w.token[key] = invite(app, patient_name=name, clinic_ref=f"MRN-{key.upper()}")
        set_answers(app, w.intake[key], {**GOOD_ANSWERS, "medications_other": answer})
        with app.app_context():
            intake = db.session.get(Intake, w.intake[key])
            intake.completed_sections = ["consent", "about_you", "depression_history", "phq9", "gad7", "suicide_risk",
                                         "trauma", "alcohol", "drug_use", "medical", "medications", "vitals"]
            intake.state = "in_progress"
            db.session.commit()
    name, answer = CANARIES["c"]
    w.submission = make_submission(app, {**GOOD_ANSWERS, "medications_other": answer}, name=name, ref="MRN-C")
    with app.app_context():
        w.intake["c"] = db.session.scalar(select(Intake.id).where(Intake.patient_name == name))
    serializer = URLSafeSerializer(app.secret_key, salt="screening.intake.page")
    w.ref = {key: serializer.dumps(w.intake[key]) for key in ("a", "b")}
    return w


def client_for(w: World, role: str):
    """A browser in the role, and the CSRF token of its own session."""
    client = w.app.test_client()
    if role in PATIENT_ROLES:
        key = role[-1]
        assert open_link(client, w.token[key]).status_code == 303
        token = form_controls(page(client.get("/intake/section/consent")))["csrf_token"]
    elif role in STAFF or role == "disabled":
        email = {"clinician": "clin@example.org", "admin": "admin@example.org", "disabled": "gone@example.org"}[role]
        assert sign_in(client, email).status_code == 302
        token = csrf_from(client, "/staff/")
        if role == "disabled":  # disabled while signed in: the live session must stop working
            with w.app.app_context():
                db.session.get(User, w.disabled_id).active = False
                db.session.commit()
    else:
        token = csrf_from(client, "/sign-in")
    return client, token


# -- who may use what ----------------------------------------------------------------------------------------

PUBLIC = {"index", "health", "report.asset", "accounts.sign_in", "accounts.second_factor", "accounts.sign_out",
          "api.openapi"}
PATIENT_PAGES = {"intake.resume", "intake.section", "intake.visibility", "intake.support", "intake.review",
                 "intake.done"}
STAFF_PAGES = {"clinician.worklist", "clinician.invitations", "clinician.new_invitation",
               "clinician.revoke_invitation", "clinician.new_link", "clinician.summary", "clinician.summary_pdf",
               "clinician.review", "my_account.overview", "my_account.change_password", "my_account.two_factor",
               "my_account.new_recovery_codes", "my_account.turn_off_two_factor",
               "clinician.confirm_revoke", "clinician.confirm_new_link", "my_account.confirm_turn_off_two_factor"}
# Reached with a one-time link only: refused to everyone here.
LINK_PAGES = {"accounts.accept_invite", "accounts.reset_password"}


def allowed(w: World, rule, role: str, values: dict) -> bool:
    if rule.rule.startswith("/admin"):
        return role == "admin"
    endpoint = rule.endpoint
    if endpoint in PUBLIC:
        return True
    if endpoint in STAFF_PAGES:
        return role in STAFF
    if endpoint in PATIENT_PAGES:
        return role in PATIENT_ROLES
    if endpoint.startswith("api."):  # no session opens the API: only a token does (tests/test_api.py)
        return False
    if endpoint == "intake.open_link":  # the link is the key: only its holder has it
        return role in PATIENT_ROLES and values.get("token") == w.token[role[-1]]
    if endpoint == "intake.start":
        return bool(w.app.config.get("PUBLIC_START"))
    if endpoint == "accounts.setup":  # accounts exist: no setup link works for anyone
        return False
    if endpoint in LINK_PAGES:
        return False
    raise AssertionError(f"{rule.rule} ({endpoint}) is not in the access matrix: decide who may use it")


def param_values(w: World, rule, role: str) -> list[dict]:
    """Every filling of the route's parameters to try: real ids of every kind, and unknown ones."""
    choices: dict[str, list] = {}
    for name in rule.arguments:
        if rule.endpoint == "intake.open_link":
            choices[name] = ["not-a-real-token-0123456789"] + ([w.token[role[-1]]] if role in PATIENT_ROLES else [])
        elif rule.endpoint == "accounts.setup":
            choices[name] = [w.setup_token, "not-a-real-token-0123456789"]
        elif name == "intake_id":
            choices[name] = [w.intake["a"], w.intake["b"], w.intake["c"], UNKNOWN_ID]
        elif name == "submission_id":
            choices[name] = [w.submission, UNKNOWN_ID]
        elif name == "section_id":
            choices[name] = ["consent", "medications", "no-such-section"]
        elif name == "name":
            choices[name] = ["report.css", "nope.css"]
        elif name == "slug":
            choices[name] = ["question-sets", "rule-sets"]
        elif name == "set_id":
            choices[name] = ["ketamine-intake", "ketamine-safety"]
        elif re.search(r"<int:%s>" % re.escape(name), rule.rule):
            choices[name] = [1]
        else:
            choices[name] = ["phq9_1"]
    fillings = [{}]
    for name, options in choices.items():
        fillings = [{**f, name: option} for f in fillings for option in options]
    return fillings


def post_data(w: World, rule, role: str, csrf: str) -> dict:
    data = {"csrf_token": csrf, "_shown": "", "_action": "next", "_ref": w.ref["a"]}
    if rule.endpoint == "accounts.sign_in":
        data.update(email="clin@example.org", password="not the password at all")
    elif rule.endpoint == "accounts.setup":
        data.update(email="intruder@example.org", password="a long enough password",
                    confirm="a long enough password")
    elif rule.endpoint == "clinician.new_invitation":
        data.update(patient_name="Matrix Invitee")
    return data


LAST = ("intake.review", "accounts.sign_out")  # they end what the role is: run them at the end


def requests_for(w: World, role: str) -> list[tuple]:
    out = []
    for rule in w.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for values in param_values(w, rule, role):
                path = rule.rule
                for name, value in values.items():
                    path = re.sub(r"<(?:[^:>]+:)?%s>" % re.escape(name), str(value), path)
                out.append((rule, method, path, values))
    order = lambda r: (r[1] == "POST", r[0].endpoint in LAST, r[0].endpoint == "accounts.sign_out")  # noqa: E731
    return sorted(out, key=order)


# -- judging a response --------------------------------------------------------------------------------------

def h1(text: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else ""


def outcome(client, response, hops: int = 0) -> tuple[str, str, str]:
    """("refused" or "content", the final status and path, the final body)."""
    status = response.status_code
    if 300 <= status < 400:
        target = response.headers.get("Location", "")
        target = re.sub(r"^https?://[^/]+", "", target)
        if target.startswith("/sign-in"):
            return "refused", f"{status} -> {target}", ""
        if hops >= 5:
            return "content", f"{status} -> {target} (redirect loop)", ""
        return outcome(client, client.get(target), hops + 1)
    text = response.get_data().decode("utf-8", "replace")  # a PDF is bytes
    if status >= 400:
        return "refused", str(status), text
    if h1(text) in REFUSAL_TITLES or any(notice in text for notice in UNSAVED_NOTICES):
        return "refused", f"{status} {h1(text)!r}", text
    return "content", f"{status} {h1(text)!r}", text


def foreign_state(w: World, role: str) -> dict:
    """What must not change when ``role`` acts: every intake but its own, and the accounts."""
    own = w.intake.get(role[-1]) if role in PATIENT_ROLES else None
    with w.app.app_context():
        intakes = {i.id: (i.state, i.token_hash, i.answers, i.completed_sections, i.patient_name)
                   for i in db.session.scalars(select(Intake)) if i.id != own and i.id in w.intake.values()}
        users = [(u.id, u.email, u.role, u.active, u.password_hash) for u in db.session.scalars(select(User))]
    return {"intakes": intakes, "users": users}


# -- the measurement -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app, request, role):
    w = build(app)
    client, csrf = client_for(w, role)
    before = foreign_state(w, role)
    leaks_of = [] if role in STAFF else [CANARIES[k] for k in ("a", "b", "c") if not role.endswith(f"_{k}")]
    # The detector can see data: a patient sees its own answers somewhere, staff see every patient's.
    own = [CANARIES[role[-1]][1]] if role in PATIENT_ROLES else [c[1] for c in CANARIES.values()] if role in STAFF \
        else []
    tried = unexpected = leaks = own_seen = 0
    problems = []
    for rule, method, path, values in requests_for(w, role):
        expected = allowed(w, rule, role, values)
        if method == "GET":
            response = client.get(path)
        else:
            response = client.open(path, method=method, data=post_data(w, rule, role, csrf))
        tried += 1
        result, where, body = outcome(client, response)
        if result == "content" and not expected:
            unexpected += 1
            problems.append(f"unexpected success: {role} {method} {path} -> {where}")
        own_seen += any(text in body for text in own)
        shown = [text for canary in leaks_of for text in canary if text in body]
        if shown:
            leaks += 1
            problems.append(f"another patient's data: {role} {method} {path} -> {where} shows {shown}")
    # Staff manage every invitation (revoke, new link) by design; anyone else must leave others' data alone.
    changed = role not in STAFF and foreign_state(w, role) != before
    if changed:
        problems.append(f"{role} changed another patient's intake or an account")
    RESULTS[role] = {"requests": tried, "unexpected": unexpected, "leaks": leaks, "changed": int(changed)}
    record_measure(request, f"access_matrix.{role}", requests=tried, unexpected_successes=unexpected,
                   other_patient_pages=leaks, other_data_changed=int(changed))
    assert not problems, "\n".join(problems)
    assert own_seen > 0 or not own, f"{role} never saw the data it may see: the leak check would be blind"


def test_access_matrix_total(request):
    if set(RESULTS) != set(ROLES):
        pytest.skip("the total needs every role of the matrix in the same run")
    total = {key: sum(r[key] for r in RESULTS.values()) for key in ("requests", "unexpected", "leaks", "changed")}
    record_measure(request, "access_matrix", roles=len(ROLES), requests=total["requests"],
                   unexpected_successes=total["unexpected"], other_patient_pages=total["leaks"],
                   other_data_changed=total["changed"])
    assert total["unexpected"] == total["leaks"] == total["changed"] == 0


def test_the_matrix_would_catch_an_open_route(app):
    """The judge is not blind: a page open to everyone counts as content, and a route the table does not know
    stops the test until someone decides who may use it."""
    app.add_url_rule("/leaky/<int:submission_id>", "leaky",
                     lambda submission_id: f"<h1>Submission {submission_id}</h1>{CANARIES['c'][1]}")
    w = build(app)
    client, _ = client_for(w, "signed_out")
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "leaky")
    with pytest.raises(AssertionError, match="not in the access matrix"):
        allowed(w, rule, "signed_out", {})
    result, _, body = outcome(client, client.get(f"/leaky/{w.submission}"))
    assert result == "content" and CANARIES["c"][1] in body
