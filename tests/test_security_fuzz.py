"""Measured property 1 (issue 7): generated malformed submissions to every form and endpoint give no server
error and leave stored data unchanged.

Every (route, method) of ``app.url_map`` gets a Hypothesis generator (a route nobody wrote one for, such as
an admin page added later, gets the generic one). Each generated request carries at least one defect that
must make the application refuse it: a missing, forged, duplicated or foreign CSRF token, a value that is
not a valid answer (control characters, wrong types, huge strings, out-of-range numbers, impossible dates,
unknown choices), a forged page reference, missing or duplicated fields, a body of the wrong type or too
large, or an unknown id or name in the path. Around the defect the rest of the request is noise drawn the
same way. After every request the database (every table but the audit log, and the staff sessions' last-activity
time) must equal the one before.

"Unchanged" is exact for every form that is refused as a whole. The patient's section page saves each valid
answer on its own and, as a browser form must, reads an empty or absent field that the page reports as
shown as "cleared"; so on that page every answer sent is invalid, and a field left out is also left out of
``_shown`` (or ``_shown`` is absent and every field is sent): the stored draft must then stay exactly as it
was.

Three classes of input found bugs, now fixed and each reproduced by its own test at the end of this file:
an id beyond SQLite's 64-bit integers in a staff URL gave a 500 (B1); free-text fields stored control
characters (B2); a multipart part without a readable name crashed Flask-WTF's CSRF check (B3). They stay
in the generated inputs, and any server error or change fails the test.

Runs in-process with Flask's test client, Hypothesis derandomized (the same inputs every run).
"""

from __future__ import annotations

import datetime
import logging
import random
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from sqlalchemy import delete, select

from intake_helpers import GOOD_ANSWERS, form_controls, invite, open_link, page, set_answers
from screening import create_app
from screening.content import compile_question_set
from screening.db import db
from screening.models import Intake, Submission
from security_helpers import db_snapshot, record_measure, snapshot_diff, sqlite_path
from test_clinician_support import PASSWORD, csrf_from, make_submission, make_user, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # reads the SQLite file itself

INT64_MAX = 2 ** 63 - 1
TOTAL_REQUIRED = 10_000
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Examples per endpoint group (sum >= 10,000). Patient pages get the most: they hold the answers.
BUDGET = {
    "patient_section_post": 2000, "patient_visibility_post": 500, "patient_review_post": 300,
    "patient_get": 700, "link_get": 700, "public_start": 300,
    "sign_in": 700, "sign_out": 300, "setup": 300, "setup_fresh": 300,
    "staff_get": 900, "invitation_new": 700, "invitation_action": 400, "staff_review": 500,
    "public_get": 600, "wrong_method": 500, "generic": 300,
}

# -- values --------------------------------------------------------------------------------------------
# Hypothesis picks and combines values from a corpus built once from a fixed seed: its own text strategies
# cost about a millisecond per string, which would put 10,000 requests far over the suite's time budget.

CHAR_RANGES = [(0x00, 0x1F), (0x20, 0x7E), (0x20, 0x7E), (0x7F, 0x9F), (0xA0, 0x2FF), (0x300, 0x36F),
               (0x590, 0x6FF), (0x900, 0x97F), (0x2000, 0x206F), (0x2100, 0x22FF), (0x3000, 0x30FF),
               (0x4E00, 0x4FFF), (0xFE00, 0xFEFF), (0xFFF0, 0xFFFF), (0x1F300, 0x1F6FF), (0x10000, 0x10FFFF)]


def _corpus(seed: int, count: int, max_len: int, ranges=CHAR_RANGES) -> list[str]:
    rng = random.Random(seed)
    words = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(0, max_len)):
            code = rng.randint(*rng.choice(ranges))
            chars.append(chr(code if not 0xD800 <= code <= 0xDFFF else 0xFFFD))
        words.append("".join(chars))
    return words


EDGE_VALUES = [
    "", " ", "\t\n", "0", "-0", "-1", "1e309", "-1e309", "NaN", "nan", "inf", "-Infinity", "1_000", "0x10",
    "\u0661\u0662", "\uff11\uff12", "12.5.3", "+5", "\u22125", "9" * 400, "1" + "0" * 30, "2020-02-30",
    "0000-00-00", "9999-12-31", "1980-7-31", "31/12/1999", "02/30/2000", "1980-07-31T00:00", "true", "null",
    "[]", "{}", "yes\x00", "__none__", "None", "undefined", "%00", "%s%s%n", "../../etc/passwd",
    "<script>alert(1)</script>", "{{7*7}}", "${7*7}", "' OR 1=1 --", "\\", "\u202eevil", "\U0001F600" * 3,
    "yes", "no", "2", "hypertension", "ssri", "female", "very", "never", "1980-07-31", "07/31/1980", "168"]
WORDS = _corpus(7, 3000, 24)
CONTROL_WORDS = _corpus(8, 400, 8, [(0x00, 0x1F), (0x7F, 0x9F), (0x2028, 0x202E), (0x200B, 0x200F), (0xFEFF, 0xFEFF)])
PRINTABLE_WORDS = [w for w in _corpus(9, 600, 5, [(0x21, 0x7E), (0xA1, 0x2FF), (0x4E00, 0x4FFF), (0x1F300, 0x1F6FF)])
                   if w.strip()]

CONTROL_WORDS = [w for w in CONTROL_WORDS if w]
POISON_CHARS = ["\x00", "\x01", "\x07", "\x08", "\x1b", "\x7f", "<", "{", "~", "#", "\ufffd", "\u202e"]
# C0 controls but tab and line breaks, and DEL: what free text refuses (C1 controls such as U+009B are let through).
CONTROL_SEQUENCES = ["\x00", "\x01", "\x1b[2J", "\x07", "\x08", "\x7f", "\x1b[31m", "\x0b", "\x0c"]
FIELD_NAMES = [w for w in WORDS[:500] if w] + ["csrf_token[]", "_shown", "_ref", "_action", "email[]", "note",
                                               "patient_name", "__proto__", "a" * 300]
PRINTABLE_NAMES = PRINTABLE_WORDS[:300] + ["csrf_token[]", "_shown", "_ref", "_action", "email[]", "note",
                                           "patient_name", "__proto__", "a" * 300, "x.y", "a[b][c]"]

# Hypothesis draws the shape of each request (which page, which kind of CSRF, page reference, ``_shown`` and
# body defect, which form defects) and a seeded random.Random for the values and the rest, all derandomized:
# the same requests on every run.
RNG = st.randoms(use_true_random=True)


def word(r) -> str:
    return r.choice(WORDS)


def junk(r) -> str:
    """A value that is not what any field expects: unicode of every kind, control characters, edge cases,
    huge strings, or mixtures."""
    k = r.random()
    if k < 0.35:
        return word(r)
    if k < 0.5:
        return r.choice(CONTROL_WORDS)
    if k < 0.7:
        return r.choice(EDGE_VALUES)
    if k < 0.75:
        return (word(r) or "x") * (r.choice([300, 1_000, 2_001, 4_001]) if r.random() < 0.95 else 20_000)
    return word(r) + r.choice(CONTROL_WORDS) + word(r)


def poisoned(r, huge: bool = False) -> str:
    """Junk with a character no number, date, choice or yes/no answer can hold (and str.strip() keeps)."""
    if huge:
        return (word(r) + r.choice(POISON_CHARS)) * r.choice([50, 400, 3_000])
    side = lambda: (word(r) if r.random() < 0.7 else r.choice(EDGE_VALUES))[:12]  # noqa: E731
    return side() + r.choice(POISON_CHARS) + side()


def too_long(r) -> str:
    """Longer than any free-text field allows (2,000 for answers, 4,000 for notes), blank ends or not."""
    text = r.choice(PRINTABLE_WORDS)
    pad = r.choice(["", " ", "\n"])
    return pad + text * (4100 // len(text) + r.choice([1, 50, 2_000])) + pad


def control_text(r) -> str:
    """Free text with a control character a person cannot type (bug B2 stored it; now refused)."""
    return (word(r) + r.choice(CONTROL_SEQUENCES) + word(r))[:1500]


def shuffled(r, fields: list) -> list:
    """The fields in another order, each name's values still in their order (the first one counts)."""
    rank = {name: r.random() for name, _ in fields}
    return [f for _, f in sorted(enumerate(fields), key=lambda pair: (rank[pair[1][0]], pair[0]))]


def field_name(r) -> str:
    """An extra field's name: mostly printable (a name with control characters gets the whole form refused
    at the door, and the form's own handling would not be reached)."""
    return r.choice(FIELD_NAMES) if r.random() < 0.15 else r.choice(PRINTABLE_NAMES)


def noise_fields(r) -> list:
    return [(field_name(r), junk(r)) for _ in range(r.randint(0, 4))]


def noise_query(r) -> list:
    return [(field_name(r), junk(r)[:2000]) for _ in range(r.randint(0, 3))]


def path_text(r) -> str:
    """A path segment: junk, percent-encoded as a browser sends it."""
    value = junk(r)[:3000] if r.random() < 0.85 else r.choice(["..", ".", "%2e%2e", "a/b", "%00", ""])
    return quote(value, safe="") or "x"


def int_param(r, real: list[int]) -> int:
    """An id for a URL: a real one, one that does not exist, 0, or beyond 64 bits (bug B1 gave a 500; now a 404)."""
    k = r.random()
    if k < 0.4:
        return r.choice(real)
    if k < 0.75:
        return r.randint(10 ** 5, INT64_MAX)
    if k < 0.8:
        return 0
    return r.randint(INT64_MAX + 1, 10 ** 40)


@dataclass
class Req:
    """One generated request. ``expect``: "refused" (nothing may change) or "bug_b2" (only a control-character
    string may reach the stored free text)."""

    group: str
    client: str
    method: str
    path: str
    fields: list = field(default_factory=list)  # form (name, value) pairs, in order
    query: list = field(default_factory=list)
    body: str = "form"  # form, multipart, query, json, bytes, text
    raw: bytes = b""
    labels: set = field(default_factory=set)
    expect: str = "refused"

    def describe(self) -> str:
        def short(value):
            text = repr(value)
            return text if len(text) < 80 else text[:60] + f"...({len(value)} chars)"
        return (f"{self.method} {self.path[:120]} client={self.client} body={self.body} labels={sorted(self.labels)} "
                f"fields={[(n, short(v)) for n, v in self.fields][:12]} query={[(n, short(v)) for n, v in self.query][:6]}")


# -- the world: one app, two staff accounts, patients, a submission ---------------------------------------

@dataclass
class World:
    app: object
    clients: dict
    csrf: dict
    sections: list
    refs: dict
    patient_intake: int
    other_intake: int
    submission_id: int
    db_path: str
    errors: list = field(default_factory=list)


class ErrorTypes(logging.Handler):
    """Collects the exception type the app's 500 handler logs ("Unhandled OverflowError on ...")."""

    def __init__(self, sink: list):
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record):
        if isinstance(record.msg, str) and record.msg.startswith("Unhandled") and record.args:
            self.sink.append(record.args[0])


def fuzz_app(instance) -> object:
    return create_app({
        "TESTING": True, "INSTANCE_PATH": str(instance), "SECRET_KEY": "fuzz-secret", "CLINIC_NAME": "Fuzz Clinic",
        "CLINIC_PHONE": "555-0100", "PASSWORD_HASH_METHOD": "scrypt:1024:8:1", "REPORT_RENDER_ON_SUBMIT": False,
        "PUBLIC_START": True,
        # Rate limits would turn most generated requests into 429s before the code under test runs; with
        # limits that high, counting them in the database (the default store) would only slow the run.
        "RATELIMIT_STORAGE_URI": "memory://",
        "SIGN_IN_LIMIT_PER_ACCOUNT": "1000000 per minute", "SIGN_IN_LIMIT_PER_ADDRESS": "1000000 per minute",
        "PATIENT_LINK_LIMIT_PER_ADDRESS": "1000000 per minute", "PUBLIC_START_LIMIT_PER_ADDRESS": "1000000 per minute",
    })


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from screening.report.pdf import store_pdf

    app = fuzz_app(tmp_path_factory.mktemp("fuzz") / "instance")
    make_user(app, "clin@example.org", "clinician")
    make_user(app, "admin@example.org", "admin")
    submission_id = make_submission(app, GOOD_ANSWERS, name="Sub Mitted", ref="MRN-S")
    with app.app_context():
        store_pdf(db.session.get(Submission, submission_id))  # stored once, so a GET never adds it
        sections = list(compile_question_set(db.session.get(Submission, submission_id).intake.question_set_version)
                        .sections)
    patient_id, token = invite(app, patient_name="Pat Fuzz", clinic_ref="MRN-F")
    other_id, _ = invite(app, patient_name="Other Person")
    set_answers(app, patient_id, GOOD_ANSWERS)
    with app.app_context():
        intake = db.session.get(Intake, patient_id)
        intake.completed_sections = [s.id for s in sections]
        db.session.commit()

    clients = {name: app.test_client() for name in ("patient", "anon", "clinician", "admin")}
    assert open_link(clients["patient"], token).status_code == 303
    assert sign_in(clients["clinician"], "clin@example.org").status_code == 302
    assert sign_in(clients["admin"], "admin@example.org").status_code == 302
    csrf = {
        "patient": form_controls(page(clients["patient"].get("/intake/section/consent")))["csrf_token"],
        "anon": csrf_from(clients["anon"], "/sign-in"),
        "clinician": csrf_from(clients["clinician"], "/staff/"),
        "admin": csrf_from(clients["admin"], "/staff/"),
    }
    assert all(csrf.values())
    serializer = URLSafeSerializer(app.secret_key, salt="screening.intake.page")
    refs = {"own": serializer.dumps(patient_id), "other": serializer.dumps(other_id),
            "missing_intake": serializer.dumps(10 ** 6), "not_int": serializer.dumps("1"),
            "foreign_key": URLSafeSerializer("another-secret", salt="screening.intake.page").dumps(patient_id)}
    errors: list = []
    handler = ErrorTypes(errors)
    app.logger.addHandler(handler)
    yield World(app, clients, csrf, sections, refs, patient_id, other_id, submission_id, sqlite_path(app), errors)
    app.logger.removeHandler(handler)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def fresh_setup(tmp_path_factory):
    """An install with no account yet and a valid first-admin link: its form is fuzzed too."""
    from screening.accounts.auth import issue_setup_token

    app = fuzz_app(tmp_path_factory.mktemp("fuzz-setup") / "instance")
    with app.app_context():
        token = issue_setup_token()
        db.session.commit()
    client = app.test_client()
    csrf = csrf_from(client, f"/setup/{token}")
    errors: list = []
    handler = ErrorTypes(errors)
    app.logger.addHandler(handler)
    yield app, client, token, csrf, errors
    app.logger.removeHandler(handler)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# -- pieces of requests -----------------------------------------------------------------------------------

CSRF_KINDS = ["missing", "junk", "two_junk", "foreign", "tampered", "payload_only", "tripled"]


@st.composite
def csrf_fields(draw, r, valid: str, foreign: str, must_fail: bool):
    """(fields, defective): the CSRF token fields; forged unless ``must_fail`` is False and it draws valid."""
    kinds = CSRF_KINDS if must_fail else CSRF_KINDS + ["valid", "valid", "valid", "valid_then_junk"] * 2
    kind = draw(st.sampled_from(kinds))
    fields = {"missing": [], "junk": [("csrf_token", junk(r))],
              "two_junk": [("csrf_token", junk(r)), ("csrf_token", junk(r))],
              "foreign": [("csrf_token", foreign)],
              "tampered": [("csrf_token", valid[:-3] + ("abc" if not valid.endswith("abc") else "xyz"))],
              "payload_only": [("csrf_token", valid.split(".")[0])],
              "tripled": [("csrf_token", valid * 3)],
              "valid": [("csrf_token", valid)],
              "valid_then_junk": [("csrf_token", valid), ("csrf_token", junk(r))]}[kind]
    return fields, not kind.startswith("valid")


BODY_KINDS = ["form"] * 8 + ["multipart"] * 3 + ["query", "json", "bytes", "text"]


@st.composite
def body_of(draw, r, req: Req) -> Req:
    """Maybe send the fields another way: multipart, in the query string, as JSON, raw bytes, text/plain
    (every way but form and multipart leaves the form empty, so the CSRF check fails); now and then more
    than MAX_CONTENT_LENGTH (2 MB)."""
    kind = draw(st.sampled_from(BODY_KINDS))
    req.body = kind
    if kind not in ("form", "multipart"):
        req.labels.add("body_type")
        req.expect = "refused"
        if kind == "bytes":
            req.raw = r.randbytes(r.randint(0, 300)) + b"\xff\xfe%ZZ&=&&csrf_token"
    if r.random() < 0.005:
        req.fields.append(("padding", "P" * (2 * 1024 * 1024 + 100)))
        req.labels.add("too_large")
        req.expect = "refused"
    return req


# -- generators per endpoint group ------------------------------------------------------------------------

def gen_patient_section_post(w: World):
    """A section page posted by the patient whose intake is open, every answer in it invalid."""
    @st.composite
    def gen(draw):
        r = draw(RNG)
        section = draw(st.sampled_from(w.sections))
        req = Req("patient_section_post", "patient", "POST", f"/intake/section/{section.id}")
        fields, shown, bug_only = [], [], False
        # Huge values in about one request in six, in one or two of its answers (they are slow to echo back).
        huge = set(r.sample([i.id for i in section.items], min(len(section.items), r.randint(1, 2)))) \
            if r.random() < 0.17 else set()
        for item in section.items:
            modes = ["poison", "poison", "poison", "dup", "missing"] + (["ctrl"] if item.type == "text" else [])
            mode = "huge" if item.id in huge else r.choice(modes)
            if mode == "missing":  # neither sent nor reported shown: the page leaves its answer alone
                req.labels.add("missing_field")
                continue
            if item.type == "text":
                if mode == "ctrl":
                    value, bug_only = control_text(r), True
                    req.labels.add("control_chars_in_text")
                else:
                    value = too_long(r)
                    req.labels.add("huge")
            else:
                value = poisoned(r, huge=mode == "huge")
                req.labels.add("huge" if mode == "huge" else "invalid_value")
            values = [value]
            if mode == "dup":
                values += [junk(r) for _ in range(r.randint(1, 3))]
                req.labels.add("duplicated_field")
            fields += [(item.id, v) for v in values]
            shown.append(item.id)
        csrf, csrf_bad = draw(csrf_fields(r, w.csrf["patient"], w.csrf["clinician"], must_fail=False))
        ref_kind = draw(st.sampled_from(["own", "own", "missing", "other", "missing_intake", "not_int",
                                         "foreign_key", "junk"]))
        ref = [] if ref_kind == "missing" else [("_ref", junk(r) if ref_kind == "junk" else w.refs[ref_kind])]
        all_posted = len(shown) == len(section.items)
        shown_kind = draw(st.sampled_from(["exact", "exact", "extra"] + (["absent"] if all_posted else [])))
        if shown_kind == "absent":  # the default is every visible item: all of them were sent, invalid
            shown_field = []
        else:
            tokens = list(shown)
            if shown_kind == "extra":  # ids of other pages' items and junk are ignored
                others = [i.id for s in w.sections for i in s.items if s.id != section.id]
                tokens += [r.choice(others) if r.random() < 0.5 else word(r) for _ in range(r.randint(1, 4))]
            r.shuffle(tokens)
            shown_field = [("_shown", " ".join(tokens))]
        action = r.choice(["next", "next", "back", None, junk(r)[:500]])
        ret = r.choice([None, None, "review", "", junk(r)[:500]])
        controls = csrf + ref + shown_field + ([("_action", action)] if action is not None else []) + (
            [("_return", ret)] if ret is not None else [])
        req.fields = shuffled(r, controls + fields) if r.random() < 0.3 else controls + fields
        req.fields += noise_fields(r)
        req.query = noise_query(r)
        req.labels |= ({"csrf"} if csrf_bad else set()) | ({"forged_ref"} if ref_kind not in ("own", "missing") else set())
        req.expect = "bug_b2" if bug_only and not csrf_bad and ref_kind in ("own", "missing") else "refused"
        return draw(body_of(r, req))
    return gen()


def gen_patient_visibility_post(w: World):
    """The live "what shows now" endpoint: it never saves, so nothing may change whatever is sent."""
    @st.composite
    def gen(draw):
        r = draw(RNG)
        section_id = draw(st.sampled_from([s.id for s in w.sections] + ["(junk)"]))
        if section_id == "(junk)":
            section_id = path_text(r)
        req = Req("patient_visibility_post", draw(st.sampled_from(["patient", "patient", "anon"])), "POST",
                  f"/intake/section/{section_id}/visibility")
        csrf, _ = draw(csrf_fields(r, w.csrf["patient"], w.csrf["anon"], must_fail=False))
        item_ids = [i.id for s in w.sections for i in s.items]
        fields = [(r.choice(item_ids), junk(r) if r.random() < 0.7 else r.choice(EDGE_VALUES))
                  for _ in range(r.randint(0, 8))]
        req.fields = csrf + fields + [("_shown", " ".join(r.sample(item_ids, r.randint(0, 6))))] + noise_fields(r)
        req.labels.add("invalid_value")
        return draw(body_of(r, req))
    return gen()


def gen_patient_review_post(w: World):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        req = Req("patient_review_post", draw(st.sampled_from(["patient", "patient", "anon"])), "POST",
                  "/intake/review")
        csrf, _ = draw(csrf_fields(r, w.csrf["patient"], w.csrf["clinician"], must_fail=True))
        req.fields = csrf + noise_fields(r)
        req.query = noise_query(r)
        req.labels.add("csrf")
        return draw(body_of(r, req))
    return gen()


def gen_patient_get(w: World):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        path = draw(st.sampled_from(["/intake", "/intake/support", "/intake/review", "/intake/done", "(junk)"]
                                    + [f"/intake/section/{s.id}" for s in w.sections]))
        if path == "(junk)":
            path = f"/intake/section/{path_text(r)}"
        req = Req("patient_get", draw(st.sampled_from(["patient", "patient", "anon"])), "GET", path)
        req.query = [(r.choice(["from", "after", "x"] + FIELD_NAMES[:5]), junk(r)[:2000])
                     for _ in range(r.randint(0, 3))]
        req.labels.add("query")
        return req
    return gen()


def gen_link_get(w: World):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        return Req("link_get", "anon", "GET", f"/i/{path_text(r)}", query=noise_query(r), labels={"unknown_token"})
    return gen()


def gen_public_start(w: World):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        if draw(st.booleans()):
            return Req("public_start", "anon", "GET", "/start", query=noise_query(r), labels={"query"})
        req = Req("public_start", "anon", "POST", "/start")
        csrf, _ = draw(csrf_fields(r, w.csrf["anon"], w.csrf["patient"], must_fail=True))
        req.fields = csrf + noise_fields(r)
        req.labels.add("csrf")
        return draw(body_of(r, req))
    return gen()


def email_value(r) -> str:
    k = r.random()
    if k < 0.5:
        return junk(r)
    if k < 0.8:
        return f"{word(r)}@{word(r)}.org"
    return r.choice(["clin@example.org", "ADMIN@example.org ", "admin@example.org\x00", "a" * 300 + "@x.org"])


def gen_sign_in(w: World):
    """Every sign-in here fails: the right password is never sent (only an audit event may be written)."""
    @st.composite
    def gen(draw):
        r = draw(RNG)
        client = draw(st.sampled_from(["anon", "anon", "patient"]))
        req = Req("sign_in", client, "POST", "/sign-in")
        csrf, _ = draw(csrf_fields(r, w.csrf[client], w.csrf["clinician"], must_fail=False))
        shape = draw(st.sampled_from(["both", "both", "no_email", "no_password", "dup"]))
        emails = [] if shape == "no_email" else [email_value(r) for _ in range(2 if shape == "dup" else 1)]
        passwords = [] if shape == "no_password" else [
            p for p in (junk(r) for _ in range(2 if shape == "dup" else 1)) if p != PASSWORD]
        nxt = [] if r.random() < 0.5 else [("next", r.choice([junk(r), "//evil.example", "/\\evil",
                                                              "https://evil.example", "javascript:alert(1)"]))]
        req.fields = csrf + [("email", e) for e in emails] + [("password", p) for p in passwords] + nxt + \
            noise_fields(r)
        req.labels |= {"wrong_password", "invalid_value"} | ({"duplicated_field"} if shape == "dup" else set())
        return draw(body_of(r, req))
    return gen()


def gen_sign_out(w: World):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        client = draw(st.sampled_from(["clinician", "admin", "anon"]))
        req = Req("sign_out", client, "POST", "/sign-out")
        csrf, _ = draw(csrf_fields(r, w.csrf[client], w.csrf["patient"], must_fail=True))
        req.fields = csrf + noise_fields(r)
        req.labels.add("csrf")
        return draw(body_of(r, req))
    return gen()


def gen_setup(w: World):
    """Setup links on an install that has accounts: every one is dead, whatever is sent."""
    @st.composite
    def gen(draw):
        r = draw(RNG)
        token = path_text(r)
        if draw(st.booleans()):
            return Req("setup", "anon", "GET", f"/setup/{token}", query=noise_query(r), labels={"unknown_token"})
        req = Req("setup", "anon", "POST", f"/setup/{token}")
        csrf, _ = draw(csrf_fields(r, w.csrf["anon"], w.csrf["patient"], must_fail=False))
        req.fields = csrf + [(n, junk(r)) for n in ("email", "password", "confirm")] + noise_fields(r)
        req.labels.add("unknown_token")
        return draw(body_of(r, req))
    return gen()


def gen_setup_fresh(token: str, csrf_token: str, foreign: str):
    """The first-admin form of a fresh install, each time with at least one defect that makes it invalid."""
    @st.composite
    def gen(draw):
        r = draw(RNG)
        req = Req("setup_fresh", "setup", "POST", f"/setup/{token}")
        csrf, csrf_bad = draw(csrf_fields(r, csrf_token, foreign, must_fail=False))
        defects = draw(st.sets(st.sampled_from(["email", "short", "mismatch", "missing"]), min_size=1))
        email = junk(r).replace("@", "") if "email" in defects else "new.admin@example.org"
        password = word(r)[:11] if "short" in defects else "a long enough password"
        confirm = password + r.choice(PRINTABLE_WORDS) if "mismatch" in defects else password
        fields = [("email", email), ("password", password), ("confirm", confirm)]
        if "missing" in defects:
            gone = r.choice(["email", "password", "confirm"])
            fields = [f for f in fields if f[0] != gone]
        req.fields = csrf + fields + noise_fields(r)
        req.labels |= {"invalid_value"} | defects | ({"csrf"} if csrf_bad else set())
        return draw(body_of(r, req))
    return gen()


def cursor_value(r) -> str:
    if r.random() < 0.4:
        return junk(r)[:100]
    ident = r.randint(-5, 10 ** 6) if r.random() < 0.7 else r.randint(INT64_MAX + 1, 10 ** 30)
    moment = r.choice(["20260101T000000.000000", "99991231T235959.999999", "2026", "x"])
    return f"{r.randint(-2, 6)}~{moment}~{ident}"


STAFF_QUERY = {
    "review": lambda r: r.choice(["to_review", "reviewed", "all", junk(r)]),
    "severity": lambda r: r.choice(["exclude", "urgent", "review", "info", "none", "all", junk(r)]),
    "after": lambda r: r.choice([cursor_value(r), str(r.randint(-10, 10 ** 6)), str(r.randint(INT64_MAX + 1, 10 ** 30))]),
    "before": cursor_value, "state": lambda r: r.choice(["open", "all", "revoked", junk(r)]),
    "download": junk, "next": junk,
}


def overflow_in(text: str) -> bool:
    return any(int(n) > INT64_MAX for n in re.findall(r"\d{19,}", text))


def gen_staff_get(w: World):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        client = draw(st.sampled_from(["clinician", "admin"]))
        ident = int_param(r, [w.submission_id])
        path = draw(st.sampled_from(["/staff/", "/staff/invitations", "/staff/invitations/new",
                                     "/staff/submissions/{}", "/staff/submissions/{}/summary.pdf", "/admin/",
                                     "/sign-in"])).format(ident)
        req = Req("staff_get", client, "GET", path)
        keys = draw(st.lists(st.sampled_from(sorted(STAFF_QUERY)), max_size=4))
        req.query = [(k, STAFF_QUERY[k](r)[:3000]) for k in keys] + noise_query(r)
        if overflow_in(path + " " + " ".join(v for _, v in req.query)):
            req.labels.add("int_overflow")
        req.labels.add("query")
        return req
    return gen()


def gen_invitation_new(w: World):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        req = Req("invitation_new", draw(st.sampled_from(["clinician", "admin"])), "POST", "/staff/invitations/new")
        csrf, csrf_bad = draw(csrf_fields(r, w.csrf[req.client], w.csrf["patient"], must_fail=False))
        defects = draw(st.sets(st.sampled_from(["name_long", "ref_long", "dob_bad", "dob_future", "dob_old",
                                                "no_identity", "control_chars_in_text"]), min_size=1))
        text = r.choice(PRINTABLE_WORDS)
        name = (text * 300)[:201 + len(text)] if "name_long" in defects else r.choice(["Pat Example", "Ana"])
        ref = (text * 200)[:101 + len(text)] if "ref_long" in defects else r.choice(["MRN-9", ""])
        if "control_chars_in_text" in defects:  # in a field that keeps any other defect it has
            if "name_long" in defects:
                name += control_text(r)[:50]
            elif "ref_long" in defects or r.random() < 0.5:
                name = control_text(r)[:150]
            else:
                ref = control_text(r)[:80]
        today = datetime.date.today()
        if "dob_bad" in defects:
            dob = r.choice([poisoned(r), "2020-02-30", "1980-13-01", "31/12/1980", "1980"])
        elif "dob_future" in defects:
            dob = (today + datetime.timedelta(days=r.randint(1, 10 ** 6))).isoformat()
        elif "dob_old" in defects:
            dob = datetime.date(r.randint(1, today.year - 122), r.randint(1, 12), r.randint(1, 28)).isoformat()
        else:
            dob = r.choice(["", "1980-07-31"])
        fields = [("patient_name", name), ("patient_dob", dob), ("clinic_ref", ref)]
        if "no_identity" in defects:
            fields = [("patient_dob", dob)] + r.choice(
                [[], [("patient_name", "   ")], [("clinic_ref", "\t")], [("patient_name", ""), ("clinic_ref", "")]])
        fields = shuffled(r, fields)
        if fields and r.random() < 0.3:  # a field sent twice: only its first value counts
            fields.append((r.choice([name for name, _ in fields]), junk(r)))
            req.labels.add("duplicated_field")
        req.fields = csrf + fields + noise_fields(r)
        req.labels |= defects | ({"csrf"} if csrf_bad else set())
        strong = defects - {"control_chars_in_text"}
        req.expect = "bug_b2" if not strong and not csrf_bad else "refused"
        return draw(body_of(r, req))
    return gen()


def gen_invitation_action(w: World):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        ident = int_param(r, [w.other_intake, w.patient_intake])
        action = draw(st.sampled_from(["revoke", "new-link"]))
        req = Req("invitation_action", draw(st.sampled_from(["clinician", "admin"])), "POST",
                  f"/staff/invitations/{ident}/{action}")
        real = ident in (w.other_intake, w.patient_intake)
        csrf, csrf_bad = draw(csrf_fields(r, w.csrf[req.client], w.csrf["patient"], must_fail=real))
        req.fields = csrf + noise_fields(r)
        req.labels |= {"csrf"} if csrf_bad else {"unknown_id"}
        if ident > INT64_MAX:
            req.labels.add("int_overflow")
        return draw(body_of(r, req))
    return gen()


def gen_staff_review(w: World):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        ident = int_param(r, [w.submission_id])
        req = Req("staff_review", draw(st.sampled_from(["clinician", "admin"])), "POST",
                  f"/staff/submissions/{ident}/review")
        real = ident == w.submission_id
        csrf, csrf_bad = draw(csrf_fields(r, w.csrf[req.client], w.csrf["patient"], must_fail=False))
        kind = draw(st.sampled_from(["long", "long", "control"])) if real and not csrf_bad else "any"
        notes = {"long": lambda: [too_long(r)], "control": lambda: [control_text(r)],
                 "any": lambda: [junk(r) for _ in range(r.randint(0, 2))]}[kind]()
        req.fields = csrf + [("note", n) for n in notes] + noise_fields(r)
        req.labels |= ({"csrf"} if csrf_bad else set()) | ({"unknown_id"} if not real else set()) | {
            "control_chars_in_text" if kind == "control" else "huge"}
        if ident > INT64_MAX:
            req.labels.add("int_overflow")
        req.expect = "bug_b2" if kind == "control" else "refused"
        return draw(body_of(r, req))
    return gen()


def gen_public_get(w: World):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        path = draw(st.sampled_from(["/", "/health", "/report-assets/report.css", "/static/site.css", "/sign-in",
                                     "/report-assets/{}", "/static/{}"]))
        path = path.format(path_text(r)) if "{}" in path else path
        query = noise_query(r)
        if path == "/sign-in":
            query.append(("next", r.choice([junk(r)[:2000], "//evil.example", "/\\evil", "https://evil.example",
                                            "javascript:alert(1)", "/staff/"])))
        return Req("public_get", draw(st.sampled_from(["anon", "patient", "clinician"])), "GET", path,
                   query=query, labels={"query"})
    return gen()


def fill_path(r, rule, w: World) -> str:
    converters = {name: conv for conv, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule.rule)}
    path = rule.rule
    for name in rule.arguments:
        if converters.get(name) == "int":
            value = str(int_param(r, [w.submission_id, w.patient_intake, 1]))
        elif r.random() < 0.5:
            value = path_text(r)
        else:
            value = r.choice(["question-sets", "rule-sets", "ketamine-intake", "ketamine-safety", "consent",
                              "phq9_1", "1", "report.css"])
        path = re.sub(r"<(?:[^:>]+:)?%s>" % re.escape(name), lambda m: value, path)
    return path


def gen_wrong_method(w: World, rules):
    @st.composite
    def gen(draw):
        r = draw(RNG)
        rule = draw(st.sampled_from(rules))
        method = draw(st.sampled_from(["PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "GET", "POST"]))
        if method in rule.methods:
            method = "PATCH"
        req = Req("wrong_method", draw(st.sampled_from(["anon", "patient", "clinician", "admin"])), method,
                  fill_path(r, rule, w), fields=noise_fields(r), labels={"wrong_method"})
        if overflow_in(req.path):
            req.labels.add("int_overflow")
        return req
    return gen()


def gen_generic(w: World, rules):
    """Routes nobody wrote a generator for (e.g. admin pages added later): junk in the path and query, and
    for POST junk fields with a forged CSRF token, sent mostly as the admin (so the views themselves run)."""
    @st.composite
    def gen(draw):
        r = draw(RNG)
        rule, method = draw(st.sampled_from(rules))
        req = Req("generic", draw(st.sampled_from(["admin", "admin", "clinician", "anon"])), method,
                  fill_path(r, rule, w), query=noise_query(r), labels={"query"})
        if method == "POST":
            csrf, _ = draw(csrf_fields(r, w.csrf[req.client], w.csrf["patient"], must_fail=True))
            names = FIELD_NAMES[:50] + ["text", "yaml", "title", "message", "severity", "id", "type", "file"]
            req.fields = csrf + [(r.choice(names), junk(r)) for _ in range(r.randint(0, 6))]
            req.labels.add("csrf")
            req = draw(body_of(r, req))
        if overflow_in(req.path):
            req.labels.add("int_overflow")
        return req
    return gen()


# -- running one request --------------------------------------------------------------------------------

@dataclass
class Tally:
    requests: int = 0
    server_errors: int = 0
    data_changed: int = 0
    statuses: Counter = field(default_factory=Counter)
    endpoints: Counter = field(default_factory=Counter)
    labels: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)


RESULTS: dict[str, Tally] = {}


def send(client, req: Req):
    kwargs = {"method": req.method, "query_string": urlencode(req.query) if req.query else None}
    if req.method in ("GET", "HEAD", "TRACE"):
        return client.open(req.path, **kwargs)
    if req.body == "form":  # encoded here: a list of pairs keeps duplicates and their order
        kwargs["data"] = urlencode(req.fields).encode("utf-8")
        kwargs["content_type"] = "application/x-www-form-urlencoded"
    elif req.body == "multipart":
        from werkzeug.datastructures import MultiDict
        kwargs["data"] = MultiDict(req.fields)
        kwargs["content_type"] = "multipart/form-data"
    elif req.body == "query":
        kwargs["query_string"] = urlencode(list(req.query) + [(n, v[:1000]) for n, v in req.fields])
    elif req.body == "json":
        kwargs["json"] = {n: v for n, v in req.fields}
    elif req.body == "bytes":
        kwargs["data"] = req.raw
        kwargs["content_type"] = "application/x-www-form-urlencoded"
    elif req.body == "text":
        kwargs["data"] = "\n".join(f"{n}={v}" for n, v in req.fields).encode("utf-8", "replace")
        kwargs["content_type"] = "text/plain"
    return client.open(req.path, **kwargs)


class Runner:
    def __init__(self, app, clients: dict, db_path: str, errors: list, tally: Tally, world: World | None):
        self.app, self.clients, self.db_path, self.errors = app, clients, db_path, errors
        self.tally, self.world = tally, world
        self.snapshot = db_snapshot(db_path)
        # PRAGMA data_version moves when another connection commits: a cheap "did anything commit?"
        self.watch = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        self.version = self.data_version()

    def data_version(self) -> int:
        return self.watch.execute("PRAGMA data_version").fetchone()[0]

    def __call__(self, req: Req) -> None:
        tally = self.tally
        tally.requests += 1
        tally.endpoints[f"{req.method} {req.group}"] += 1
        tally.labels.update(req.labels)
        errors_before = len(self.errors)
        try:
            response = send(self.clients[req.client], req)
            status = response.status_code
        except Exception as exc:  # noqa: BLE001 - anything escaping the app is a server error
            status = 599
            self.errors.append(type(exc).__name__)
        tally.statuses[status] += 1
        if status >= 500:
            kinds = self.errors[errors_before:] or ["(not logged)"]
            tally.server_errors += 1
            tally.failures.append(f"{status} {kinds}: {req.describe()}")
        version = self.data_version()
        if version == self.version:
            return  # nothing was committed
        self.version = version
        after = db_snapshot(self.db_path)
        if after != self.snapshot:
            tally.data_changed += 1
            tally.failures.append(f"changed {snapshot_diff(self.snapshot, after)}: {req.describe()}")
        self.snapshot = after


HYPOTHESIS = dict(derandomize=True, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))


def run_group(strategy, runner: Runner, examples: int) -> None:
    @settings(max_examples=examples, **HYPOTHESIS)
    @given(req=strategy)
    def check(req):
        runner(req)

    try:
        check()
    finally:
        runner.watch.close()


def still_signed_in(world: World) -> None:
    """The fuzzing never signed the staff out nor lost the patient's session (else later inputs test less)."""
    assert world.clients["clinician"].get("/staff/").status_code == 200
    assert world.clients["admin"].get("/staff/").status_code == 200
    text = page(world.clients["patient"].get("/intake/section/consent"))
    assert 'name="_ref"' in text, "the patient's session was lost during fuzzing"
    with world.app.app_context():
        intake = db.session.get(Intake, world.patient_intake)
        assert intake.state == "in_progress" and intake.answers == GOOD_ANSWERS


def covered_rules(app) -> tuple[list, list]:
    """(rules a specific generator covers, (rule, method) pairs left for the generic one)."""
    specific = {"index", "health", "static", "report.asset", "intake.open_link", "intake.start", "intake.resume",
                "intake.section", "intake.visibility", "intake.support", "intake.review", "intake.done",
                "accounts.sign_in", "accounts.sign_out", "accounts.setup", "admin_home.index", "clinician.worklist",
                "clinician.invitations", "clinician.new_invitation", "clinician.revoke_invitation",
                "clinician.new_link", "clinician.summary", "clinician.summary_pdf", "clinician.review"}
    rules = list(app.url_map.iter_rules())
    left = [(rule, method) for rule in rules if rule.endpoint not in specific
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return rules, left


def report_group(request, group: str, tally: Tally) -> None:
    RESULTS[group] = tally
    record_measure(request, f"malformed_submissions.{group}", requests=tally.requests,
                   server_errors=tally.server_errors, data_changed=tally.data_changed, statuses=dict(sorted(tally.statuses.items())))
    assert tally.server_errors == 0, "\n".join(tally.failures[:10])
    assert tally.data_changed == 0, "\n".join(tally.failures[:10])


GROUPS = ["patient_section_post", "patient_visibility_post", "patient_review_post", "patient_get", "link_get",
          "public_start", "sign_in", "sign_out", "setup", "staff_get", "invitation_new", "invitation_action",
          "staff_review", "public_get", "wrong_method", "generic"]


@pytest.mark.parametrize("group", GROUPS)
def test_malformed_submissions(world, request, group):
    rules, left = covered_rules(world.app)
    tally = Tally()
    runner = Runner(world.app, world.clients, world.db_path, world.errors, tally, world)
    if group == "generic":
        if not left:
            report_group(request, group, tally)  # nothing uncovered today; the budget goes elsewhere
            return
        strategy = gen_generic(world, left)
    elif group == "wrong_method":
        strategy = gen_wrong_method(world, [r for r in rules if r.endpoint != "static"])
    else:
        strategy = globals()[f"gen_{group}"](world)
    budget = BUDGET[group] + (BUDGET["generic"] if group == "patient_section_post" and not left else 0)
    run_group(strategy, runner, budget)
    report_group(request, group, tally)
    still_signed_in(world)


def test_malformed_submissions_to_a_fresh_install_setup_page(fresh_setup, request):
    app, client, token, csrf, errors = fresh_setup
    tally = Tally()
    runner = Runner(app, {"setup": client}, sqlite_path(app), errors, tally, None)
    run_group(gen_setup_fresh(token, csrf, "foreign-token"), runner, BUDGET["setup_fresh"])
    with app.app_context():
        from screening.accounts.auth import user_count
        assert user_count() == 0
    report_group(request, "setup_fresh", tally)


def test_malformed_submissions_total(request):
    """The figure for the whole run (needs every group above to have run in this session)."""
    expected = set(GROUPS) | {"setup_fresh"}
    if not expected <= set(RESULTS):
        pytest.skip("the total needs every fuzzing group of this module in the same run")
    total = Tally()
    for tally in RESULTS.values():
        total.requests += tally.requests
        total.server_errors += tally.server_errors
        total.data_changed += tally.data_changed
        total.statuses.update(tally.statuses)
        total.labels.update(tally.labels)
    record_measure(request, "malformed_submissions", requests=total.requests, server_errors=total.server_errors,
                   data_changed=total.data_changed,
                   defects=dict(total.labels.most_common()))
    assert total.requests >= TOTAL_REQUIRED
    assert total.server_errors == 0 and total.data_changed == 0


# -- the three bugs it found (now fixed), each reproduced on its own --------------------------------------------------------

def test_ids_beyond_64_bits_are_not_found_rather_than_server_errors(app):
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:1024:8:1"
    make_user(app, "clin@example.org", "clinician")
    client = app.test_client()
    sign_in(client, "clin@example.org")
    token = csrf_from(client, "/staff/")
    huge = "9" * 20  # 2**63 - 1 has 19 digits
    statuses = {
        "summary": client.get(f"/staff/submissions/{huge}").status_code,
        "invitations?after": client.get(f"/staff/invitations?after={huge}").status_code,
        "revoke": client.post(f"/staff/invitations/{huge}/revoke", data={"csrf_token": token}).status_code,
        "new-link": client.post(f"/staff/invitations/{huge}/new-link", data={"csrf_token": token}).status_code,
        "review": client.post(f"/staff/submissions/{huge}/review", data={"csrf_token": token}).status_code,
    }
    assert all(status < 500 for status in statuses.values()), statuses


def test_control_characters_never_reach_stored_free_text(app):
    from screening.clinician.models import SubmissionReview
    from test_clinician_support import make_submission as submission_for

    app.config["PASSWORD_HASH_METHOD"] = "scrypt:1024:8:1"
    app.config["REPORT_RENDER_ON_SUBMIT"] = False
    make_user(app, "clin@example.org", "clinician")
    staff = app.test_client()
    sign_in(staff, "clin@example.org")
    token = csrf_from(staff, "/staff/invitations/new")
    staff.post("/staff/invitations/new", data={"csrf_token": token, "patient_name": "Nul\x00Name\x1b[31m",
                                               "clinic_ref": "REF\x07", "patient_dob": ""})
    sid = submission_for(app, GOOD_ANSWERS)
    staff.post(f"/staff/submissions/{sid}/review", data={"csrf_token": token, "note": "note\x00\x1b[2J"})
    intake_id, link = invite(app)
    set_answers(app, intake_id, {})
    patient = app.test_client()
    open_link(patient, link)
    with app.app_context():
        intake = db.session.get(Intake, intake_id)
        intake.answers = {k: v for k, v in GOOD_ANSWERS.items() if k != "medications_other"}
        intake.completed_sections = [s for s in ("consent", "about_you", "depression_history", "phq9", "gad7",
                                                 "suicide_risk", "trauma", "alcohol", "drug_use", "medical")]
        db.session.commit()
    controls = form_controls(page(patient.get("/intake/section/medications")))
    patient.post("/intake/section/medications", data={**controls, "medications": "ssri",
                                                      "medications_other": "ser\x00traline\x1b[2J", "_action": "next"})
    with app.app_context():
        stored = [i.patient_name for i in db.session.scalars(select(Intake))] + \
                 [i.clinic_ref for i in db.session.scalars(select(Intake))] + \
                 [r.note for r in db.session.scalars(select(SubmissionReview))] + \
                 [db.session.get(Intake, intake_id).answers.get("medications_other")]
    # Refused or cleaned, either is fine: no stored text holds a control character.
    assert not [s for s in stored if s and CONTROL_CHARS.search(s)], stored


def test_a_multipart_part_without_a_name_is_refused_not_a_server_error(client):
    body = b"--B\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--B--\r\n"
    statuses = {path: client.post(path, data=body, content_type="multipart/form-data; boundary=B").status_code
                for path in ("/sign-in", "/sign-out", "/intake/review", "/intake/section/consent")}
    assert all(status < 500 for status in statuses.values()), statuses
