"""Rate limits are counted in the app's database: every app process (gunicorn worker) shares them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from limits.storage import MemoryStorage
from sqlalchemy import select, update

from screening import create_app
from screening.db import db
from screening.models import RateLimitCounter
from screening.rate_limit_store import DatabaseStorage
from screening.security import limiter
from test_clinician_support import clinician, csrf_from, staff_app  # noqa: F401

# One failed sign-in for clin@example.org from a process of its own; prints the response status.
OTHER_PROCESS = """
import re, sys
from screening import create_app
app = create_app({"TESTING": True, "INSTANCE_PATH": sys.argv[1], "SECRET_KEY": "test-secret",
                  "SIGN_IN_LIMIT_PER_ACCOUNT": "3 per 15 minutes", **eval(sys.argv[2])})
client = app.test_client()
token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/sign-in").get_data(as_text=True))[1]
response = client.post("/sign-in", data={"csrf_token": token, "email": "clin@example.org", "password": "wrong!"})
if len(sys.argv) > 3:
    exec(sys.argv[3])
print(response.status_code)
"""


def in_other_process(app, extra_config: str = "{}", then: str | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, "-c", OTHER_PROCESS, app.instance_path, extra_config, *([then] if then else [])]
    return subprocess.run(args, capture_output=True, text=True, env=os.environ.copy(), timeout=60,
                          cwd=os.path.dirname(__file__))


def failed_sign_in(client, email="clin@example.org"):
    token = csrf_from(client, "/sign-in")
    return client.post("/sign-in", data={"csrf_token": token, "email": email, "password": "wrong password!"})


def second_app(app):
    """Another app on the same database (SQLite under the same instance folder, or the same PostgreSQL)."""
    other = create_app({"TESTING": True, "INSTANCE_PATH": app.instance_path, "SECRET_KEY": "test-secret"})
    other.config.update(PASSWORD_HASH_METHOD=app.config["PASSWORD_HASH_METHOD"])
    return other


def test_failed_sign_ins_in_several_app_processes_share_one_limit(staff_app, clinician):
    staff_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    other = second_app(staff_app)
    other.config["SIGN_IN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    assert failed_sign_in(staff_app.test_client()).status_code == 400
    assert failed_sign_in(other.test_client()).status_code == 400
    separate = in_other_process(staff_app)
    assert separate.returncode == 0, separate.stderr[-2000:]
    assert separate.stdout.split()[-1] == "400"
    assert failed_sign_in(staff_app.test_client()).status_code == 429
    assert failed_sign_in(other.test_client()).status_code == 429
    assert failed_sign_in(other.test_client(), "someone-else@example.org").status_code == 400
    with staff_app.app_context():
        counts = {row.key.split("/")[1]: row.count for row in db.session.scalars(select(RateLimitCounter))}
    assert counts["account:clin@example.org"] == 5  # one row for all three processes; refusals count too


def test_a_counter_starts_again_when_its_window_has_ended(staff_app, clinician):
    staff_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"] = "2 per 15 minutes"
    client = staff_app.test_client()
    assert [failed_sign_in(client).status_code for _ in range(3)] == [400, 400, 429]
    with staff_app.app_context():
        db.session.execute(update(RateLimitCounter).where(RateLimitCounter.key.contains("account:"))
                           .values(expires_at=time.time() - 1))
        db.session.commit()
    assert failed_sign_in(client).status_code == 400
    with staff_app.app_context():
        row = db.session.scalars(select(RateLimitCounter).where(RateLimitCounter.key.contains("account:"))).one()
        assert row.count == 1 and row.expires_at > time.time() + 14 * 60


def test_expired_counters_are_deleted_now_and_then(app_ctx):
    store = DatabaseStorage()
    store.incr("old", 60)
    db.session.execute(update(RateLimitCounter).values(expires_at=time.time() - 1))
    db.session.commit()
    assert store.get("old") == 0 and store.get_expiry("old") <= time.time()
    store.incr("new", 60)  # this storage cleaned up on its first hit, a while ago
    assert sorted(db.session.scalars(select(RateLimitCounter.key))) == ["new", "old"]
    DatabaseStorage().incr("new", 60)  # another process's storage, starting: it cleans up now
    assert db.session.scalars(select(RateLimitCounter.key)).all() == ["new"] and store.get("new") == 2


def test_concurrent_hits_lose_no_count(app):
    store = DatabaseStorage()
    threads, per_thread = 6, 20
    seen: list[int] = []

    def hit() -> None:
        with app.app_context():
            for _ in range(per_thread):
                seen.append(store.incr("busy-key", 60))

    workers = [threading.Thread(target=hit) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    with app.app_context():
        assert store.get("busy-key") == threads * per_thread
    assert sorted(seen) == list(range(1, threads * per_thread + 1))  # every hit saw its own count


def test_a_long_key_is_stored_hashed_and_still_counted(app_ctx):
    store = DatabaseStorage()
    key = "LIMITER/account:" + "a" * 400
    assert [store.incr(key, 60) for _ in range(2)] == [1, 2]
    assert store.get(key) == 2 and store.get(key + "b") == 0
    store.clear(key)
    assert store.get(key) == 0


def test_an_explicit_store_is_honoured(tmp_path):
    create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k",
                "RATELIMIT_STORAGE_URI": "memory://"})
    assert isinstance(limiter.storage, MemoryStorage)
    create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k"})
    assert isinstance(limiter.storage, DatabaseStorage)


def test_a_failing_store_never_fails_a_page_and_limits_still_hold(staff_app, clinician):
    """Without its table the store fails: the process counts in memory instead, and logs no address or
    e-mail (a process of its own, since the switch to memory is the limiter's, shared by every app)."""
    then = ("import logging\nlogging.basicConfig(level=logging.WARNING)\n"
            "from sqlalchemy import text\nfrom screening.db import db\n"
            "with app.app_context():\n    db.session.execute(text('DROP TABLE rate_limit_counter'))\n"
            "    db.session.commit()\n"
            "statuses = [client.post('/sign-in', data={'csrf_token': token, 'email': 'clin@example.org',"
            " 'password': 'wrong!'}).status_code for _ in range(4)]\n"
            "print(statuses)\n")
    result = in_other_process(staff_app, then=then)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-3:-1] == ["[400, 400, 400, 429]", "400"]
    assert "clin@example.org" not in result.stderr and "127.0.0.1" not in result.stderr
    assert "falling back to in-memory storage" in result.stderr


@pytest.mark.slow  # a real server (~3 s): on the SQLite pass only
def test_the_production_server_s_workers_share_the_patient_link_limit(tmp_path):
    """gunicorn.conf.py with three workers: link guesses spread over the workers meet one limit."""
    from security_helpers import AppServer, gunicorn_available

    if not gunicorn_available():
        pytest.skip("gunicorn is not installed")
    instance = tmp_path / "instance"
    instance.mkdir()
    env = {"SCREENING_PATIENT_LINK_LIMIT_PER_ADDRESS": "12 per 10 minutes"}
    with AppServer(instance, env=env, workers=3, threads=2) as server:
        statuses = []
        for n in range(16):  # a new connection each: any worker may take it
            try:
                statuses.append(urllib.request.urlopen(f"{server.base}/i/guess-{n}", timeout=30).status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
    assert statuses == [404] * 12 + [429] * 4
