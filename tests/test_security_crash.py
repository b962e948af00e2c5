"""Measured property 6 (issue 7): the server process is killed with SIGKILL at random moments while 50
patients fill in their intakes, and restarted each time; no acknowledged draft is lost and
``PRAGMA integrity_check`` stays ok.

The app runs in a child process on 127.0.0.1 (gunicorn, 2 workers x 8 threads, when installed; else
werkzeug's threaded server) on a temporary SQLite instance (WAL, synchronous=FULL). All 50 patients run at
once as threads; when a request fails because the server is gone they carry on from ``/intake`` once it is
back, as a person pressing reload would. A page counts as *acknowledged* when its POST got the success
response (the redirect) before the kill.

At every kill, before the restart, the database is opened (recovering the write-ahead log, as the restarted
server would) and checked: every answer acknowledged until then is stored, and ``PRAGMA integrity_check`` is
ok. After the last patient is done the server is killed once more and everything is checked again: all
answers, exactly one submission per intake holding exactly its answers, and the audit log's hash chain.
"""

from __future__ import annotations

import copy
import random
import threading
import time

import pytest

from intake_helpers import GOOD_PAGES
from security_helpers import (AppServer, HttpClient, http_intake, integrity_check, patient_pages, prepare_instance,
                              record_measure, stored_intakes)

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # measures the embedded SQLite database

INTAKES = 50
KILLS = 10  # at random moments while the patients are at it, then once more when all are done
SEED = 20261126


def lost_answers(database: str, acked: dict[int, dict], expected: dict[int, dict]) -> list[tuple[int, str]]:
    stored = stored_intakes(database, readonly=False)
    return [(intake_id, item) for intake_id, answers in acked.items() for item in answers
            if stored[intake_id]["answers"].get(item) != expected[intake_id][item]]


def test_sigkill_at_random_moments_loses_no_acknowledged_draft(tmp_path, request):
    instance = tmp_path / "instance"
    invitations = prepare_instance(instance, INTAKES)
    database = str(instance / "screening.sqlite3")
    acked: dict[int, dict] = {intake_id: {} for intake_id, _ in invitations}
    pages_acked = [0]
    submitted: set[int] = set()
    expected: dict[int, dict] = {}
    failures: list[str] = []
    errors: list[int] = []
    lock = threading.Lock()
    done = threading.Event()
    kills, checks, lost_at_kills, not_ok = 0, [], [], []
    rng = random.Random(SEED)
    server = AppServer(instance, env={"SCREENING_REPORT_RENDER_ON_SUBMIT": "false"}, workers=2, threads=8)
    server.start()

    def patient(n: int, intake_id: int, token: str) -> None:
        pages, expected[intake_id] = patient_pages(n, GOOD_PAGES)

        def ack(section: str, answers: dict) -> None:
            with lock:
                if section == "review":
                    submitted.add(intake_id)
                else:
                    acked[intake_id].update(answers)
                    pages_acked[0] += 1

        try:
            errors.append(http_intake(HttpClient(server.base, timeout=30), token, pages, on_ack=ack,
                                      resilient=True, timeout=240))
        except Exception as exc:  # noqa: BLE001 - reported below
            with lock:
                failures.append(f"patient {n}: {type(exc).__name__}: {exc}"[:500])

    threads = [threading.Thread(target=patient, args=(n, intake_id, token))
               for n, (intake_id, token) in enumerate(invitations)]
    began = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        watcher = threading.Thread(target=lambda: ([t.join() for t in threads], done.set()))
        watcher.start()
        while kills < KILLS and not done.wait(rng.uniform(0.3, 2.5)):  # a random moment of the run
            with lock:  # what has been acknowledged up to the kill
                snapshot = copy.deepcopy(acked)
                server.kill()
            kills += 1
            lost_at_kills += lost_answers(database, snapshot, expected)
            checks.append(integrity_check(database))
            server.start()
        done.wait()
        seconds = time.monotonic() - began
        server.kill()  # and once more at the end
        kills += 1
    finally:
        server.stop()
    kind = server.kind
    stored = stored_intakes(database, readonly=False)
    checks.append(integrity_check(database))
    not_ok = [c for c in checks if c != "ok"]
    lost_final = lost_answers(database, acked, expected)
    duplicates = sum(max(0, len(v["submissions"]) - 1) for v in stored.values())
    wrong = [i for i in acked if stored[i]["answers"] != expected[i]
             or [s for s in stored[i]["submissions"] if s != expected[i]]]
    missing = [i for i in acked if len(stored[i]["submissions"]) != 1]  # every patient reached "Thank you"
    audit_problems = audit_chain_problems(instance)
    record_measure(request, "crash", intakes=INTAKES, server=kind, sigkills=kills, restarts=server.starts - 1,
                   seconds=round(seconds, 1), pages_acknowledged=pages_acked[0],
                   answers_acknowledged=sum(len(a) for a in acked.values()),
                   lost_at_kills=len(lost_at_kills), lost_final=len(lost_final), intakes_not_exact=len(wrong),
                   submissions_acknowledged=len(submitted), duplicate_submissions=duplicates,
                   integrity_checks=len(checks), integrity_not_ok=len(not_ok),
                   connection_errors_retried=sum(errors), audit_chain_problems=len(audit_problems))
    assert not failures, "\n".join(failures[:10]) + "\n" + server.log_text()[-3000:]
    assert kills >= 5, "the run ended before the server was killed a few times"
    assert lost_at_kills == [] and lost_final == [] and not_ok == []
    assert wrong == [] and duplicates == 0 and missing == []
    assert audit_problems == []


def audit_chain_problems(instance) -> list[str]:
    from screening import create_app
    from screening.audit import verify
    from screening.db import db

    app = create_app({"INSTANCE_PATH": str(instance)})
    with app.app_context():
        problems = verify()
        db.session.remove()
        db.engine.dispose()
    return problems
