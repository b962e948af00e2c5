"""The work list with 100,000 submissions: the right rows, by keyset pagination, in a fixed number of
statements. Its speed is measured by bench/bench_worklist.py, never asserted here."""

from __future__ import annotations

import contextlib
import datetime
import random

import pytest
from sqlalchemy import event, insert

from screening.clinician.models import SubmissionReview
from screening.clinician.worklist import RANK_NAMES, Cursor, worklist_page
from screening.content import current_question_set_version, current_rule_set_version
from screening.db import db
from screening.models import Intake, Submission, User
from test_clinician_support import csrf_from, make_user, staff_app  # noqa: F401

N = 100_000
T0 = datetime.datetime(2024, 1, 1)


@contextlib.contextmanager
def statements():
    """The SQL statements run inside the block."""
    seen: list[str] = []
    engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def page_of(fn):
    with statements() as seen:
        page = fn()
    # One index range scan per severity rank, then the page's rows and their reviews: however deep the page.
    assert len(seen) <= len(RANK_NAMES) + 2, seen
    return page


@pytest.mark.slow
def test_worklist_pages_with_100k_submissions(staff_app):
    rng = random.Random(7)
    result = {"scores": {"phq9": {"value": 12, "band": "moderate", "complete": True}}, "flags": []}
    with staff_app.app_context():
        qs, rs = current_question_set_version("ketamine-intake"), current_rule_set_version("ketamine-intake")
        intakes, submissions, ranks = [], [], {}
        for i in range(1, N + 1):
            when = T0 + datetime.timedelta(minutes=5 * i + rng.randrange(5))
            rank = rng.choices(range(5), weights=[3, 2, 30, 35, 30])[0]
            ranks[i] = (rank, when)
            intakes.append({"id": i, "token_hash": f"{i:064x}", "state": "submitted", "patient_name": f"P{i}",
                            "question_set_version_id": qs.id, "rule_set_version_id": rs.id, "answers": {},
                            "created_at": when, "submitted_at": when})
            submissions.append({"id": i, "intake_id": i, "submitted_at": when, "answers": {}, "result": result,
                                "severity_rank": rank, "reviewed_at": T0 if i > 60 else None,
                                "reviewed_by": 10**6 if i > 60 else None})
        db.session.execute(insert(Intake), intakes)
        db.session.add(User(id=10**6, email="r@example.org", password_hash="x", role="clinician"))
        db.session.flush()
        db.session.execute(insert(Submission), submissions)
        # The hardest case for "not reviewed": all reviewed except the 60 oldest.
        db.session.execute(insert(SubmissionReview), [
            {"submission_id": i, "reviewed_by": 10**6, "reviewer_email": "r@example.org", "reviewed_at": T0}
            for i in range(61, N + 1)])
        db.session.commit()

        expected_first = sorted(ranks, key=lambda i: (ranks[i][0], -ranks[i][1].timestamp(), -i))[:50]
        first = page_of(lambda: worklist_page("all"))
        assert [s.id for s in first.rows] == expected_first
        deep = Cursor(3, datetime.datetime(2025, 1, 1), 10**9)
        deep_page = page_of(lambda: worklist_page("all", after=deep))
        assert len(deep_page.rows) == 50
        assert all((s.severity_rank, -s.submitted_at.timestamp()) >= (3, -deep.submitted_at.timestamp())
                   for s in deep_page.rows)
        worst = page_of(lambda: worklist_page("to_review"))
        assert len(worst.rows) == 50 and all(s.id <= 60 for s in worst.rows)

    make_user(staff_app, "c@example.org")
    client = staff_app.test_client()
    token = csrf_from(client, "/sign-in")
    client.post("/sign-in", data={"csrf_token": token, "email": "c@example.org",
                                  "password": "correct horse battery staple"})
    response = client.get("/staff/?review=all")
    assert response.status_code == 200 and response.get_data(as_text=True).count('class="sev-tag') == 50
