"""Engines for SQLite (embedded default) and PostgreSQL, with the schema created on first use
and its revision checked on every open (`recommender.storage.schema_version`).

Concurrent writers wait for each other. PostgreSQL does so by itself. SQLite allows one
writer at a time: a writer waits up to RECSYS_LOCK_TIMEOUT seconds (default 30) for the
lock, then fails with one clear `DatabaseBusyError` (exit 2). A transaction that reads
before it writes must take the lock at BEGIN (`begin_write`), because SQLite cannot make
a reader that saw an older snapshot wait: it would fail at once, whatever the timeout.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchModuleError

from recommender.errors import DatabaseBusyError, InputError, shown

LOCK_TIMEOUT_VARIABLE = "RECSYS_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0


def lock_timeout() -> float:
    """Seconds a SQLite writer waits for another one (RECSYS_LOCK_TIMEOUT, default 30)."""
    raw = os.environ.get(LOCK_TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:
        raise InputError(
            f"{LOCK_TIMEOUT_VARIABLE}={raw[:40]!r} is not a number of seconds between 0 and"
            " 86400; set it to how long a write waits for another load (default 30)"
        )
    return seconds


def busy_error(where: str) -> DatabaseBusyError:
    return DatabaseBusyError(
        f"another load is running: the database {where} stayed locked by another writer for"
        f" {lock_timeout():g} s; wait for it to finish and run this again (raise"
        f" {LOCK_TIMEOUT_VARIABLE} to wait longer)"
    )


def is_locked(exc: BaseException) -> bool:
    """A SQLite lock wait that ran out ('database is locked' / 'database table is locked')."""
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def begin_write(cursor: Any, where: str) -> None:
    """Start a SQLite write transaction on DBAPI `cursor`, taking the write lock now
    (waiting the busy timeout for another writer), or raise `busy_error`."""
    try:
        cursor.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if is_locked(exc):
            raise busy_error(where) from None
        raise


def _enable_sqlite_wal(dbapi_connection, _record) -> None:
    # WAL lets readers (recommend, notebooks) run while an ETL load writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout() * 1000)}")
    cursor.close()


def _sqlite_busy(context) -> None:
    """Every statement through the engine: a lock wait that ran out is the clear error."""
    if is_locked(context.original_exception):
        raise busy_error(str(context.engine.url.database) if context.engine else "")


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
        raise InputError(f"invalid database URL {shown(url)}: {exc}") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            lock_timeout()  # a bad RECSYS_LOCK_TIMEOUT is a usage error before anything runs
            engine = create_engine(url)
            event.listen(engine, "connect", _enable_sqlite_wal)
            event.listen(engine, "handle_error", _sqlite_busy)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (ImportError, NoSuchModuleError) as exc:
        raise InputError(
            f"database URL {shown(parsed.render_as_string(hide_password=True))} needs a driver that"
            f" is not installed ({exc}); use sqlite:///PATH or postgresql+psycopg://..."
        ) from None
    except OSError as exc:
        raise InputError(f"cannot create the database folder for {shown(url)}: {exc}") from None
    return engine
