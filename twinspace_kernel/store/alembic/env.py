"""Alembic environment: migrates the database named by the caller's config."""

from alembic import context

from twinspace_kernel.store.db import new_engine
from twinspace_kernel.store.models import Base

config = context.config


def run_migrations_online() -> None:
    engine = new_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
