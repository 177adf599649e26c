"""datasets

Revision ID: datasets_0001
Revises: 0001
Create Date: 2026-11-21 02:00:00
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = 'datasets_0001'
down_revision = '0001'
branch_labels = ('datasets',)
depends_on = None


def upgrade() -> None:
    op.create_table('datasets',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('trigger_word', sa.String(length=64), nullable=False),
    sa.Column('class_word', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('default_repeats', sa.Integer(), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets')),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_datasets_tenant_name')
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_datasets_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('dataset_images',
    sa.Column('dataset_id', sa.String(length=32), nullable=False),
    sa.Column('filename', sa.String(length=500), nullable=False),
    sa.Column('storage_key', sa.String(length=400), nullable=False),
    sa.Column('image_key', sa.String(length=400), nullable=False),
    sa.Column('thumb_key', sa.String(length=400), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('caption', sa.Text(), nullable=True),
    sa.Column('repeats', sa.Integer(), nullable=True),
    sa.Column('pixel_hash', sa.String(length=64), nullable=False),
    sa.Column('phash', sa.String(length=32), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_images_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_images'))
    )
    with op.batch_alter_table('dataset_images', schema=None) as batch_op:
        batch_op.create_index('ix_dataset_images_dataset_created', ['dataset_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_images_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_images_pixel_hash'), ['pixel_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_dataset_images_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dataset_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_images_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_dataset_images_pixel_hash'))
        batch_op.drop_index(batch_op.f('ix_dataset_images_dataset_id'))
        batch_op.drop_index('ix_dataset_images_dataset_created')
    op.drop_table('dataset_images')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasets_tenant_id'))
    op.drop_table('datasets')
