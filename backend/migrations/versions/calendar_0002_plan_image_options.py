"""calendar: image options of recurring plans

Revision ID: calendar_0002
Revises: calendar_0001
"""
from alembic import op
import sqlalchemy as sa


revision = 'calendar_0002'
down_revision = 'calendar_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calendar_plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_options', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('calendar_plans', schema=None) as batch_op:
        batch_op.drop_column('image_options')
