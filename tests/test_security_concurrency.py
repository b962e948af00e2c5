"""Measured property 5 (issue 7): 50 patients completing their intakes at the same moment, against the app
served by a real WSGI server on 127.0.0.1 (gunicorn, 2 worker processes x 8 threads, when it is installed;
else werkzeug's threaded server in a child process), lose no answer and create no duplicate submission.

Each patient is a thread with its own cookies, following the real flow over HTTP (open the link, GET each
page for its CSRF token, POST the answers, follow the redirect, send the review), with answers that differ
from patient to patient; at the end every patient double-clicks "Send": two review POSTs at once. Then, from
the SQLite file itself: every acknowledged answer is stored for the right intake, each intake has exactly
one submission holding exactly its answers, and ``PRAGMA integrity_check`` is ok. (The PDF is not rendered at
submission here, to keep the run short; it is rendered after the submission is committed and cannot touch it.)
"""

from __future__ import annotations

import threading
import time

import pytest

from intake_helpers import GOOD_PAGES
from security_helpers import (AppServer, CountingClient, http_intake, integrity_check, patient_pages,
                              prepare_instance, record_measure, stored_intakes)

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # measures the embedded SQLite database

PATIENTS = 50


def test_fifty_patients_at_once_lose_nothing_and_submit_once(tmp_path, request):
    instance = tmp_path / "instance"
    invitations = prepare_instance(instance, PATIENTS)
    database = str(instance / "screening.sqlite3")
    acked: dict[int, dict] = {intake_id: {} for intake_id, _ in invitations}
    submitted: set[int] = set()
    expected: dict[int, dict] = {}
    failures: list[str] = []
    lock = threading.Lock()
    CountingClient.requests, CountingClient.server_errors = 0, []
    env = {"SCREENING_REPORT_RENDER_ON_SUBMIT": "false"}
    with AppServer(instance, env=env, workers=2, threads=8) as server:
        start = threading.Barrier(PATIENTS)

        def patient(n: int, intake_id: int, token: str) -> None:
            pages, expected[intake_id] = patient_pages(n, GOOD_PAGES)

            def ack(section: str, answers: dict) -> None:
                with lock:
                    if section == "review":
                        submitted.add(intake_id)
                    else:
                        acked[intake_id].update(answers)

            start.wait()
            try:
                http_intake(CountingClient(server.base), token, pages, on_ack=ack, double_submit=True, timeout=240)
            except Exception as exc:  # noqa: BLE001 - reported below with the others
                with lock:
                    failures.append(f"patient {n}: {type(exc).__name__}: {exc}"[:500])

        threads = [threading.Thread(target=patient, args=(n, intake_id, token))
                   for n, (intake_id, token) in enumerate(invitations)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - began
        kind = server.kind
        log = server.log_text()
    stored = stored_intakes(database)
    lost, wrong, acked_values = [], [], 0
    for intake_id, answers in acked.items():
        for item, value in answers.items():
            acked_values += 1
            if stored[intake_id]["answers"].get(item) != expected[intake_id][item]:
                lost.append((intake_id, item))
    for intake_id in acked:
        if stored[intake_id]["answers"] != expected[intake_id]:
            wrong.append(intake_id)
        if any(s != expected[intake_id] for s in stored[intake_id]["submissions"]):
            wrong.append(intake_id)
    duplicates = sum(max(0, len(v["submissions"]) - 1) for v in stored.values())
    missing = [i for i in submitted if len(stored[i]["submissions"]) != 1]
    check = integrity_check(database)
    record_measure(request, "concurrency", patients=PATIENTS, server=f"{kind}(2x8)" if kind == "gunicorn" else kind,
                   requests=CountingClient.requests, seconds=round(seconds, 1), answers_acknowledged=acked_values,
                   answers_lost=len(lost), intakes_not_exact=len(set(wrong)), submissions=len(submitted),
                   duplicate_submissions=duplicates, server_errors=len(CountingClient.server_errors),
                   integrity_check=check)
    assert not failures, "\n".join(failures[:10]) + "\n" + log[-3000:]
    assert len(submitted) == PATIENTS and acked_values == PATIENTS * len(expected[invitations[0][0]])
    assert lost == [] and wrong == [] and duplicates == 0 and missing == []
    assert CountingClient.server_errors == [] and check == "ok"
