"""Schema changes go through Alembic: upgrading from the first migration gives the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from screening.db import db
from screening.schema import MIGRATIONS


def test_upgrading_from_the_first_migration_gives_the_models_schema(app_ctx):
    downgrade(directory=str(MIGRATIONS), revision="base")
    assert [t for t in inspect(db.engine).get_table_names() if t != "alembic_version"] == []
    upgrade(directory=str(MIGRATIONS))
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []


def test_a_new_database_is_stamped_at_the_newest_migration(app_ctx):
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    heads = [p.stem.split("_")[0] for p in (MIGRATIONS / "versions").glob("*.py")]
    assert current in heads
