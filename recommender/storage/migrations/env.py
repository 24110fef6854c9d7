"""Alembic's entry point: migrate the connection recsys hands over (`schema_version._config`),
or, from the `alembic` command line (alembic.ini at the repository root), the database of
`-x url=URL` or of alembic.ini's sqlalchemy.url."""

from __future__ import annotations

from alembic import context

from recommender.storage.schema import Base


def _run(connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from recommender.storage.engine import connect_engine

    url = context.get_x_argument(as_dictionary=True).get("url")
    engine = connect_engine(url or context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


_main()
