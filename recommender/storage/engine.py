"""Engines for SQLite (embedded default) and PostgreSQL, with the schema created on first use."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchModuleError

from recommender.errors import InputError, shown


def _enable_sqlite_wal(dbapi_connection, _record) -> None:
    # WAL lets readers (recommend, notebooks) run while an ETL load writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, *, create_schema: bool = True) -> Engine:
    """Open the database at `url`, creating the SQLite file's folder and the schema if needed."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a long message
        raise InputError(f"invalid database URL {shown(url)}: {exc}") from None
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
            f"database URL {shown(parsed.render_as_string(hide_password=True))} needs a driver that"
            f" is not installed ({exc}); use sqlite:///PATH or postgresql+psycopg://..."
        ) from None
    except OSError as exc:
        raise InputError(f"cannot create the database folder for {shown(url)}: {exc}") from None
    if create_schema:
        from recommender.storage.schema import Base  # the ORM classes cost 0.05 s to import

        Base.metadata.create_all(engine)
    return engine
