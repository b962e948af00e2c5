"""screening: pre-consultation screening questionnaires for ketamine and esketamine clinics."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the domain core (questions, rules, evaluation) is imported without Flask
    from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app factory. ``config`` (tests) overrides instance/config.py and SCREENING_* variables."""
    from flask import Flask

    from .config import instance_path_for, load_config

    instance = instance_path_for(config)
    instance.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    load_config(app, config)

    from . import accounts, cli, i18n, schema, security, web
    from .db import db

    db.init_app(app)
    schema.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    with app.app_context():
        _prepare_database()
    accounts.announce_setup_link(app)
    return app


def _prepare_database() -> None:
    from flask import current_app
    from sqlalchemy import select

    from .audit import ensure_head
    from .content import bootstrap_defaults
    from .db import db
    from .models import QuestionSetVersion
    from .schema import exclusive, prepare_schema
    from .yaml_source import LoadError

    if os.environ.get("SCREENING_SKIP_DB_PREPARE"):  # only while generating a migration
        return
    with exclusive():
        prepare_schema()
        ensure_head()
        if db.session.scalar(select(QuestionSetVersion.id).limit(1)) is None:
            try:
                bootstrap_defaults()
            except LoadError as exc:
                # Still start, so `flask --app screening check` can show what is wrong.
                for problem in exc.problems:
                    current_app.logger.error("Default content not loaded: %s", problem)
                return
            current_app.logger.info("Loaded the default question set and rule set.")
