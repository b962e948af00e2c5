"""The database schema at start-up: Alembic migrations (Flask-Migrate) keep existing databases current.

The migrations live inside the package, so an installed wheel can upgrade its database. A new,
empty database gets the models' schema in one step and is stamped at the newest migration; a test
checks that the migrations from the first one produce exactly that schema.

Importing Flask-Migrate and Alembic costs about 0.2 s of CPU, a sixth of a start, so a start on a
database already at ``HEAD_REVISION`` (one SELECT tells) does without them; ``flask db ...``
imports them when it runs.
"""

from __future__ import annotations

import fcntl
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click
from flask import Flask, current_app
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from .db import db

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration in migrations/versions/ (tests/test_migrations.py checks it): a new migration
# must update it, or the app would not notice that a database needs upgrading.
HEAD_REVISION = "5e1a7c3b9d20"
ADVISORY_LOCK_ID = 727_270_001  # any constant: "screening is preparing its schema"


def init_app(app: Flask) -> None:
    if "flask_migrate" in sys.modules:  # imported already (a test, a script): nothing to save
        init_migrate(app)
    else:
        app.cli.add_command(MigrateCommands("db", help="Database migrations (Flask-Migrate)."))


class MigrateCommands(click.Group):
    """``flask db ...``: Flask-Migrate's command group, imported when it is used."""

    def _load(self, ctx: click.Context) -> click.Group:
        from flask.cli import ScriptInfo
        from flask_migrate.cli import db as commands

        init_migrate(ctx.ensure_object(ScriptInfo).load_app())
        self.params, self.callback, self.help = commands.params, commands.callback, commands.help
        return commands

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        self._load(ctx)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._load(ctx).list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._load(ctx).get_command(ctx, name)


def init_migrate(app: Flask) -> None:
    """Set up Flask-Migrate for the app (imports it and Alembic), once."""
    from flask_migrate import Migrate

    if "migrate" not in app.extensions:
        Migrate(app, db, directory=str(MIGRATIONS))


def database_revision() -> str | None:
    """The revision the database is stamped with (None: not stamped)."""
    try:
        with db.engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None


def prepare_schema() -> None:
    """Create or upgrade the schema; call it inside ``exclusive()``."""
    if not inspect(db.engine).get_table_names():
        init_migrate(current_app)
        from flask_migrate import stamp

        db.create_all()
        if db.engine.dialect.name == "sqlite":
            _make_partial_indexes_last()
        stamp(directory=str(MIGRATIONS))
    elif database_revision() != HEAD_REVISION:
        init_migrate(current_app)
        from flask_migrate import upgrade

        upgrade(directory=str(MIGRATIONS))


def _make_partial_indexes_last() -> None:
    """SQLite has no statistics on a new database, and between two equally good indexes it takes the one
    made last. ``create_all`` makes a table's indexes in no fixed order, so a partial index (the work
    list's "to review": only unreviewed submissions) could lose to the full index over the same columns,
    and each page would then scan every reviewed submission. Remade last, it wins, as after the
    migrations."""
    with db.engine.begin() as connection:
        for table in db.metadata.sorted_tables:
            for index in sorted(table.indexes, key=lambda ix: ix.name):
                if index.dialect_options["sqlite"]["where"] is not None:
                    index.drop(connection)
                    index.create(connection)


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
