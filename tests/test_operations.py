"""Operations commands: the audit chain check and online backups."""

from __future__ import annotations

import pytest

import sqlite3

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from screening import audit
from screening.db import db


def test_audit_verify_detects_an_edited_and_a_deleted_event(app):
    runner = app.test_cli_runner()
    with app.app_context():
        for n in range(3):
            audit.record("system", "test", f"thing:{n}")
        db.session.commit()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "audit log intact" in ok.output

    with app.app_context():
        first, second = db.session.execute(text("SELECT id FROM audit_event ORDER BY id LIMIT 2")).scalars().all()
        db.session.execute(text("UPDATE audit_event SET target = 'thing:edited' WHERE id = :id"), {"id": first})
        db.session.commit()
    edited = runner.invoke(args=["audit", "verify"])
    assert edited.exit_code == 1 and f"event {first}: its content was changed" in edited.output

    with app.app_context():
        db.session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": first})
        db.session.commit()
    deleted = runner.invoke(args=["audit", "verify"])
    assert deleted.exit_code == 1 and f"event {second}: does not follow the event before it" in deleted.output


def test_audit_verify_detects_a_deleted_newest_event(app):
    runner = app.test_cli_runner()
    with app.app_context():
        for n in range(2):
            audit.record("system", "test", f"thing:{n}")
        db.session.commit()
        db.session.execute(text("DELETE FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)"))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "the newest event(s) were deleted" in result.output


def test_concurrent_writers_never_fork_the_chain(app):
    """Eight threads, each with its own connection, record events at once: the chain stays linear."""
    import threading

    def write(n):
        with app.app_context():
            for i in range(10):
                audit.record("system", "race", f"t{n}:{i}")
                db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        assert audit.verify() == []
        count = db.session.execute(text("SELECT COUNT(*) FROM audit_event WHERE action = 'race'")).scalar()
        assert count == 80


@pytest.mark.sqlite_only
def test_backup_makes_a_consistent_copy_and_refuses_to_overwrite(app, tmp_path):
    runner = app.test_cli_runner()
    target = tmp_path / "copy.sqlite3"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT set_id, version FROM question_set_version").fetchall() == [("ketamine-intake", 1)]
    copy.close()
    again = runner.invoke(args=["backup", str(target)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_health_reports_the_database(client, monkeypatch):
    assert client.get("/health").get_json() == {"status": "ok", "database": "ok"}

    def unreachable(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", unreachable)
    response = client.get("/health")
    assert response.status_code == 503 and response.get_json() == {"status": "unavailable", "database": "unreachable"}


@pytest.mark.parametrize("storage, workers, warned", [("memory://", 2, True), ("memory://", 1, False), (None, 2, False)])
def test_gunicorn_warns_when_several_workers_count_rate_limits_apart(tmp_path, storage, workers, warned):
    """Counts in memory are per worker: gunicorn.conf.py says so at start-up when several workers
    run with an explicit memory:// store (the default, the app's database, is shared)."""
    from security_helpers import AppServer, gunicorn_available

    if not gunicorn_available():
        pytest.skip("gunicorn is not installed")
    instance = tmp_path / "instance"
    instance.mkdir()
    env = {"SCREENING_RATELIMIT_STORAGE_URI": storage} if storage else {}
    with AppServer(instance, env=env, workers=workers, threads=1) as server:
        log = server.log_text()
    assert ("Rate limits are kept in each worker's memory" in log) is warned
