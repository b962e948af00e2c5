"""A new install is usable at once: the shipped content is published as version 1 on first start."""

from __future__ import annotations

import pytest

from sqlalchemy import select

from screening import create_app
from screening.content import (current_question_set_version, current_rule_set_version,
                               default_question_set_path, default_rule_set_path)
from screening.db import db
from screening.models import QuestionSetVersion, RuleSetVersion
from screening.questions import load_question_set
from screening.rules import load_rule_set


def test_first_start_publishes_the_default_sets(app_ctx):
    qs_row = current_question_set_version("ketamine-intake")
    rs_row = current_rule_set_version("ketamine-intake")
    shipped_qs = load_question_set(default_question_set_path)
    shipped_rs = load_rule_set(default_rule_set_path, shipped_qs)
    assert (qs_row.version, qs_row.content_hash) == (1, shipped_qs.content_hash)
    assert (rs_row.set_id, rs_row.version, rs_row.content_hash) == ("ketamine-safety", 1, shipped_rs.content_hash)


def test_a_second_start_publishes_nothing_new(tmp_path):
    config = {"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"}
    create_app(config)
    app = create_app(config)
    with app.app_context():
        assert len(db.session.scalars(select(QuestionSetVersion)).all()) == 1
        assert len(db.session.scalars(select(RuleSetVersion)).all()) == 1
        db.engine.dispose()


def test_secret_key_is_created_once_and_kept_private(tmp_path):
    first = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    key_file = tmp_path / "secret_key"
    assert first == second and len(first) == 64
    assert key_file.stat().st_mode & 0o077 == 0


@pytest.mark.sqlite_only
def test_environment_overrides_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("SCREENING_CLINIC_NAME", "Harbour Clinic")
    monkeypatch.setenv("SCREENING_SESSION_IDLE_MINUTES", "15")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["CLINIC_NAME"] == "Harbour Clinic"
    assert app.config["SESSION_IDLE_MINUTES"] == 15
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'screening.sqlite3'}"
