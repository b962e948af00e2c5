"""Shared fixtures: an app on a fresh SQLite database in a temporary instance folder."""

from __future__ import annotations

import pytest

from screening import create_app
from screening.db import db


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
