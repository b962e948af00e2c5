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


def test_upgrading_copies_existing_reviews_onto_their_submissions(app_ctx):
    """8a1e0c2d5b71 moves "reviewed" onto submission: a database reviewed before it keeps its reviews."""
    from sqlalchemy import MetaData, insert, select

    from screening.models import QuestionSetVersion, RuleSetVersion, Submission, utcnow

    qs_id = db.session.scalar(select(QuestionSetVersion.id).limit(1))
    rs_id = db.session.scalar(select(RuleSetVersion.id).limit(1))
    db.session.remove()
    downgrade(directory=str(MIGRATIONS), revision="2c7ca12190b2")
    now = utcnow()
    with db.engine.begin() as connection:
        old = MetaData()
        old.reflect(connection, only=["user", "intake", "submission", "submission_review"])
        t = old.tables
        connection.execute(insert(t["user"]), [{"id": 7, "email": "c@example.org", "password_hash": "x",
                                                "role": "clinician", "active": True, "created_at": now}])
        connection.execute(insert(t["intake"]), [
            {"id": i, "token_hash": f"{i:064x}", "state": "submitted", "question_set_version_id": qs_id,
             "rule_set_version_id": rs_id, "answers": {}, "completed_sections": [], "created_at": now}
            for i in (1, 2)])
        connection.execute(insert(t["submission"]), [
            {"id": i, "intake_id": i, "submitted_at": now, "answers": {}, "result": {}, "severity_rank": 2,
             "exclude_count": 0, "urgent_count": 0, "review_count": 1, "info_count": 0} for i in (1, 2)])
        connection.execute(insert(t["submission_review"]), [
            {"submission_id": 2, "reviewed_by": 7, "reviewed_at": now, "reviewer_email": "c@example.org"}])
    upgrade(directory=str(MIGRATIONS))
    reviewed = {s.id: (s.reviewed_at, s.reviewed_by) for s in db.session.scalars(select(Submission))}
    assert reviewed == {1: (None, None), 2: (now, 7)}


def test_the_head_revision_constant_is_alembics_head():
    """schema.HEAD_REVISION decides whether a start upgrades: it must name the newest migration."""
    from alembic.script import ScriptDirectory

    from screening.schema import HEAD_REVISION

    assert ScriptDirectory(str(MIGRATIONS)).get_heads() == [HEAD_REVISION]


def test_a_start_at_the_head_revision_does_without_alembic_and_an_older_database_is_upgraded(tmp_path):
    import os
    import subprocess
    import sys

    code = ("import sys; from screening import create_app; "
            f"create_app({{'TESTING': True, 'INSTANCE_PATH': {str(tmp_path)!r}, 'SECRET_KEY': 'k'}}); "
            "print('alembic' in sys.modules, 'flask_migrate' in sys.modules)")

    def start() -> str:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()

    start()  # prepares the database (SQLite: a new one; PostgreSQL: this test's copy of the template)
    assert start() == "False False"  # at the head already: no Alembic
    from screening import create_app

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k"})
    with app.app_context():
        from screening.schema import init_migrate, database_revision

        init_migrate(app)
        downgrade(directory=str(MIGRATIONS), revision="2c7ca12190b2")
        assert database_revision() == "2c7ca12190b2"
        db.engine.dispose()
    assert start() == "True True"  # behind: Alembic upgrades it
    with app.app_context():
        from screening.schema import HEAD_REVISION

        assert database_revision() == HEAD_REVISION
        db.engine.dispose()
    assert start() == "False False"
    # `flask db ...` imports Flask-Migrate itself when it runs.
    env = {**os.environ, "SCREENING_INSTANCE_PATH": str(tmp_path)}
    current = subprocess.run([sys.executable, "-m", "flask", "--app", "screening", "db", "current"], env=env,
                             capture_output=True, text=True, check=True)
    assert f"{HEAD_REVISION} (head)" in current.stdout
