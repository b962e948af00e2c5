"""The database schema at start-up: Alembic migrations (Flask-Migrate) keep existing databases current.

The migrations live inside the package, so an installed wheel can upgrade its database. A new,
empty database gets the models' schema in one step and is stamped at the newest migration; a test
checks that the migrations from the first one produce exactly that schema.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flask import Flask, current_app
from flask_migrate import Migrate, stamp, upgrade
from sqlalchemy import inspect, text

from .db import db

MIGRATIONS = Path(__file__).parent / "migrations"
migrate = Migrate(directory=str(MIGRATIONS))
ADVISORY_LOCK_ID = 727_270_001  # any constant: "screening is preparing its schema"


def init_app(app: Flask) -> None:
    migrate.init_app(app, db)


def prepare_schema() -> None:
    """Create or upgrade the schema; call it inside ``exclusive()``."""
    if not inspect(db.engine).get_table_names():
        db.create_all()
        stamp(directory=str(MIGRATIONS))
    else:
        upgrade(directory=str(MIGRATIONS))


@contextmanager
def exclusive() -> Iterator[None]:
    """One process at a time prepares the database (schema, first content): several workers may start
    at once on a fresh install."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID})
                connection.commit()
        return
    lock_path = Path(current_app.instance_path) / "schema.lock"
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
