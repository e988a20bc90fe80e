"""Alembic environment: the URL comes from hotline's Config unless the caller set one."""
from alembic import context
from sqlalchemy import create_engine

from hotline.config import Config
from hotline.app.dbadmin import import_models
from hotline.extensions import Base

import_models()
url = context.config.get_main_option("sqlalchemy.url") or Config.from_env().database_url


def run() -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=url.startswith("sqlite"), compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run()
