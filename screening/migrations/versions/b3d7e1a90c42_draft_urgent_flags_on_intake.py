"""draft_urgent_rules and draft_urgent_at on intake, with a partial index of the intakes that have them

An urgent flag raised by answers saved in a draft (before the patient sends it) is shown to staff
at once. Existing drafts are evaluated the next time the patient saves a page.

Revision ID: b3d7e1a90c42
Revises: 8a1e0c2d5b71
Create Date: 2026-12-01 20:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3d7e1a90c42'
down_revision = '8a1e0c2d5b71'
branch_labels = None
depends_on = None

HAS_FLAGS = sa.text('draft_urgent_at IS NOT NULL')


def upgrade():
    op.add_column('intake', sa.Column('draft_urgent_rules', sa.JSON(), nullable=True))
    op.add_column('intake', sa.Column('draft_urgent_at', sa.DateTime(), nullable=True))
    op.create_index('ix_intake_draft_urgent', 'intake', ['state', 'draft_urgent_at'], unique=False,
                    sqlite_where=HAS_FLAGS, postgresql_where=HAS_FLAGS)


def downgrade():
    op.drop_index('ix_intake_draft_urgent', table_name='intake')
    op.drop_column('intake', 'draft_urgent_at')  # SQLite 3.35+ drops a column in place
    op.drop_column('intake', 'draft_urgent_rules')
