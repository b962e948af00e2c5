"""spent_form: the nonces of create forms already submitted (screening/once.py)

A reloaded or double-clicked "new invitation" or "new API token" form finds its nonce here and creates
nothing a second time.

Revision ID: affafe51c0de
Revises: c4e8f2a61d09
Create Date: 2026-12-01 23:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'affafe51c0de'
down_revision = 'c4e8f2a61d09'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('spent_form',
                    sa.Column('nonce', sa.String(length=22), nullable=False),
                    sa.Column('purpose', sa.String(length=20), nullable=False),
                    sa.Column('target', sa.String(length=64), nullable=True),
                    sa.Column('spent_at', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('nonce'))
    op.create_index(op.f('ix_spent_form_spent_at'), 'spent_form', ['spent_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_spent_form_spent_at'), table_name='spent_form')
    op.drop_table('spent_form')
