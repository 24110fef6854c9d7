"""Engines for SQLite (embedded default) and PostgreSQL, with the schema created on first use
and its revision checked on every open (`recommender.storage.schema_version`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchModuleError

from recommender.errors import InputError


def _enable_sqlite_wal(dbapi_connection, _record) -> None:
    # WAL lets readers (recommend, notebooks) run while an ETL load writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, *, create_schema: bool = True) -> Engine:
    """Open the database at `url`, creating the SQLite file's folder and the schema if needed.

    Raises `SchemaVersionError` when the database is at another schema revision than this
    recsys. `create_schema=False` is for a read that tolerates missing tables: it creates
    nothing, but still refuses a database stamped with another revision.
    """
    from recommender.storage.schema_version import ensure_schema

    engine = connect_engine(url)
    try:
        ensure_schema(engine, create=create_schema)
    except BaseException:
        engine.dispose()
        raise
    return engine


def connect_engine(url: str) -> Engine:
    """The engine for `url` alone: no schema created, no revision checked (`recsys db upgrade`
    opens a database of any revision with it)."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a long message
        raise InputError(f"invalid database URL {url!r}: {exc}") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url)
            event.listen(engine, "connect", _enable_sqlite_wal)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ImportError, NoSuchModuleError) as exc:
        raise InputError(
            f"database URL {parsed.render_as_string(hide_password=True)!r} needs a driver that"
            f" is not installed ({exc}); use sqlite:///PATH or postgresql+psycopg://..."
        ) from None
    except OSError as exc:
        raise InputError(f"cannot create the database folder for {url!r}: {exc}") from None
    return engine
