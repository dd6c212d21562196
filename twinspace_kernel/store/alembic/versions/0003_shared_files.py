"""shared files: members' own files and notebooks in the shared volume

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('shared_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('space_id', sa.Integer(), nullable=False),
    sa.Column('section', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['space_id'], ['spaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('space_id', 'section', 'name'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('shared_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shared_files_author_id'), ['author_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('shared_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shared_files_author_id'))

    op.drop_table('shared_files')
