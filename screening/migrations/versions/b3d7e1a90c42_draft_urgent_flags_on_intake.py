"""draft_urgent_rules and draft_urgent_at on intake, with a partial index of the intakes that have them

An urgent flag raised by answers saved in a draft (before the patient sends it) is shown to staff
at once. The open drafts already saved are evaluated here, with their pinned versions, so an urgent
answer given before the upgrade is not missed (plain SQL and the domain core, not the app's models).

Revision ID: b3d7e1a90c42
Revises: 8a1e0c2d5b71
Create Date: 2026-12-01 20:05:00.000000

"""
import datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3d7e1a90c42'
down_revision = '8a1e0c2d5b71'
branch_labels = None
depends_on = None

HAS_FLAGS = sa.text('draft_urgent_at IS NOT NULL')

intake = sa.table('intake', sa.column('id', sa.Integer), sa.column('state', sa.String),
                  sa.column('answers', sa.JSON), sa.column('updated_at', sa.DateTime),
                  sa.column('question_set_version_id', sa.Integer), sa.column('rule_set_version_id', sa.Integer),
                  sa.column('draft_urgent_rules', sa.JSON), sa.column('draft_urgent_at', sa.DateTime))
question_set_version = sa.table('question_set_version', sa.column('id', sa.Integer), sa.column('yaml_text', sa.Text))
rule_set_version = sa.table('rule_set_version', sa.column('id', sa.Integer), sa.column('yaml_text', sa.Text))


def upgrade():
    op.add_column('intake', sa.Column('draft_urgent_rules', sa.JSON(), nullable=True))
    op.add_column('intake', sa.Column('draft_urgent_at', sa.DateTime(), nullable=True))
    op.create_index('ix_intake_draft_urgent', 'intake', ['state', 'draft_urgent_at'], unique=False,
                    sqlite_where=HAS_FLAGS, postgresql_where=HAS_FLAGS)
    flag_open_drafts(op.get_bind())


def flag_open_drafts(connection) -> None:
    from screening.evaluation import evaluate
    from screening.questions import parse_question_set
    from screening.rules import parse_rule_set

    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    today = now.date()
    question_sets, rule_sets = {}, {}
    drafts = connection.execute(sa.select(intake.c.id, intake.c.answers, intake.c.updated_at,
                                          intake.c.question_set_version_id, intake.c.rule_set_version_id)
                                .where(intake.c.state == 'in_progress')).all()
    for draft in drafts:
        if not draft.answers:
            continue
        qs_id, rs_id = draft.question_set_version_id, draft.rule_set_version_id
        if qs_id not in question_sets:
            question_sets[qs_id] = parse_question_set(connection.scalar(
                sa.select(question_set_version.c.yaml_text).where(question_set_version.c.id == qs_id)))
        if (rs_id, qs_id) not in rule_sets:
            rule_sets[rs_id, qs_id] = parse_rule_set(connection.scalar(
                sa.select(rule_set_version.c.yaml_text).where(rule_set_version.c.id == rs_id)), question_sets[qs_id])
        result = evaluate(question_sets[qs_id], rule_sets[rs_id, qs_id], draft.answers, today)
        rules = [flag.rule for flag in result.flags if flag.severity == 'urgent']
        if rules:
            connection.execute(intake.update().where(intake.c.id == draft.id).values(
                draft_urgent_rules=rules, draft_urgent_at=draft.updated_at or now))


def downgrade():
    op.drop_index('ix_intake_draft_urgent', table_name='intake')
    op.drop_column('intake', 'draft_urgent_at')  # SQLite 3.35+ drops a column in place
    op.drop_column('intake', 'draft_urgent_rules')
