"""Alembic environment: always run with a live (keyed) connection handed over by the Workspace."""

from alembic import context

from kodomo_desktop.core.storage.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:  # only for `alembic revision --autogenerate` during development
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url") or "sqlite://"
    with create_engine(url).connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
