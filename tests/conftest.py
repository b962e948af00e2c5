"""Shared fixtures: an app on a fresh database in a temporary instance folder.

The suite runs on SQLite by default. With ``SCREENING_TEST_POSTGRES`` set to a server URL
(``postgresql+psycopg://user:password@127.0.0.1:5432``), every test gets its own new PostgreSQL
database instead, and tests marked ``sqlite_only`` are skipped.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from screening import create_app
from screening.db import db

POSTGRES = os.environ.get("SCREENING_TEST_POSTGRES", "").rstrip("/")
# Every app a test makes has an instance folder under tmp_path (the ``app`` fixture's too).
NEEDS_DATABASE = {"app", "tmp_path", "tmp_path_factory"}


@pytest.fixture(scope="session")
def postgres_template(tmp_path_factory):
    """A database with the schema and the default content, cloned for each test (much faster than
    building each test's database from nothing)."""
    name = f"screening_template_{uuid.uuid4().hex[:12]}"
    server = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    previous = os.environ.get("SCREENING_DATABASE_URL")
    os.environ["SCREENING_DATABASE_URL"] = f"{POSTGRES}/{name}"
    try:
        app = create_app({"INSTANCE_PATH": str(tmp_path_factory.mktemp("template"))})
        with app.app_context():
            db.engine.dispose()  # a template may have no open connections
    finally:
        if previous is None:
            os.environ.pop("SCREENING_DATABASE_URL", None)
        else:
            os.environ["SCREENING_DATABASE_URL"] = previous
    yield server, name
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    server.dispose()


@pytest.fixture(autouse=True)
def fresh_database(request, monkeypatch):
    if not POSTGRES:
        monkeypatch.delenv("SCREENING_DATABASE_URL", raising=False)
        yield
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("checks the embedded SQLite database")
    if not NEEDS_DATABASE & set(request.fixturenames):
        yield  # plain code (the core, the catalogs): no app, so no database to make (~0.3 s each)
        return
    server, template = request.getfixturevalue("postgres_template")
    name = f"screening_test_{uuid.uuid4().hex[:16]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    monkeypatch.setenv("SCREENING_DATABASE_URL", f"{POSTGRES}/{name}")  # every app this test creates
    yield
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "test-secret", "CLINIC_NAME": "Test Clinic",
                      "CLINIC_PHONE": "555-0100"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app
