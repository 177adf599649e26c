"""training: trained LoRAs

Revision ID: training_0001
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = 'training_0001'
down_revision = '0001'
branch_labels = ('training',)
depends_on = None


def upgrade() -> None:
    op.create_table('loras',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('trigger_word', sa.String(length=64), nullable=False),
    sa.Column('base_model', sa.String(length=200), nullable=False),
    sa.Column('architecture', sa.String(length=16), nullable=False),
    sa.Column('dataset_id', sa.String(length=32), nullable=True),
    sa.Column('dataset_hash', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('file_key', sa.String(length=400), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('alpha', sa.Float(), nullable=False),
    sa.Column('resolution', sa.Integer(), nullable=False),
    sa.Column('steps', sa.Integer(), nullable=False),
    sa.Column('final_loss', sa.Float(), nullable=True),
    sa.Column('samples', sa.JSON(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loras')),
    sa.UniqueConstraint('job_id', name=op.f('uq_loras_job_id'))
    )
    with op.batch_alter_table('loras', schema=None) as batch_op:
        batch_op.create_index('ix_loras_tenant_created', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_loras_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('loras', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loras_tenant_id'))
        batch_op.drop_index('ix_loras_tenant_created')
    op.drop_table('loras')
