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
