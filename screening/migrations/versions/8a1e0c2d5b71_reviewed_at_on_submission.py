"""reviewed_at and reviewed_by on submission; work-list indexes with id, and one of the unreviewed

The work list's default view ("to review") was an anti-join against submission_review, which
scans every reviewed submission; it is now ``reviewed_at IS NULL`` on a partial index. Existing
reviews are copied onto their submissions.

Revision ID: 8a1e0c2d5b71
Revises: 9e5a1c0e2b7d
Create Date: 2026-12-01 18:57:00.342338

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8a1e0c2d5b71'
down_revision = '9e5a1c0e2b7d'
branch_labels = None
depends_on = None

UNREVIEWED = sa.text('reviewed_at IS NULL')


def upgrade():
    op.drop_index('ix_submission_worklist', table_name='submission')
    op.add_column('submission', sa.Column('reviewed_at', sa.DateTime(), nullable=True))
    # Inline REFERENCES: SQLite adds it without copying the table, PostgreSQL without a second ALTER.
    op.execute('ALTER TABLE submission ADD COLUMN reviewed_by INTEGER '
               'CONSTRAINT fk_submission_reviewed_by_user REFERENCES "user" (id)')
    op.execute(
        "UPDATE submission SET "
        "reviewed_at = (SELECT r.reviewed_at FROM submission_review r WHERE r.submission_id = submission.id), "
        "reviewed_by = (SELECT r.reviewed_by FROM submission_review r WHERE r.submission_id = submission.id) "
        "WHERE EXISTS (SELECT 1 FROM submission_review r WHERE r.submission_id = submission.id)")
    op.create_index('ix_submission_worklist', 'submission', ['severity_rank', 'submitted_at', 'id'], unique=False)
    op.create_index('ix_submission_to_review', 'submission', ['severity_rank', 'submitted_at', 'id'], unique=False,
                    sqlite_where=UNREVIEWED, postgresql_where=UNREVIEWED)


def downgrade():
    op.drop_index('ix_submission_to_review', table_name='submission')
    op.drop_index('ix_submission_worklist', table_name='submission')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('PRAGMA defer_foreign_keys = ON')  # the table copy below drops the referenced table
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_constraint('fk_submission_reviewed_by_user', type_='foreignkey')
        batch_op.drop_column('reviewed_by')
        batch_op.drop_column('reviewed_at')
    op.create_index('ix_submission_worklist', 'submission', ['severity_rank', 'submitted_at'], unique=False)
