"""link_expires_at on intake: a patient's link stops opening the questionnaire after a while

Invitations made before this revision keep links that never expire (NULL), so no patient's link
stops working because the software was upgraded.

Revision ID: c4e8f2a61d09
Revises: b3d7e1a90c42
Create Date: 2026-12-01 22:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e8f2a61d09'
down_revision = 'b3d7e1a90c42'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('intake', sa.Column('link_expires_at', sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column('intake', 'link_expires_at')  # SQLite 3.35+ drops a column in place
