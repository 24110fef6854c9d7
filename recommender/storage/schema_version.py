"""The schema revision of a database, checked on every open and moved by `recsys db upgrade`.

Schema changes are Alembic migrations in `recommender/storage/migrations` (packaged with
recsys, so an installed recsys finds them); a database records its revision in the
`alembic_version` table. Opening a database (`make_engine`):

- at `HEAD`: two cheap queries, alembic is not imported (the start-up cost of `recsys
  recommend`);
- brand-new and empty: created from `schema.py` and stamped `HEAD`, in one transaction;
- created by a recsys from before migrations (recsys tables, no `alembic_version`): treated
  as the baseline. The baseline migration creates only the tables it lacks (what that
  recsys itself did on every open) and stamps it `BASELINE`, in one transaction;
- at an older revision: refused with "run 'recsys db upgrade'";
- at a revision this recsys does not know (a newer recsys wrote it): refused with the
  command that installs a newer recsys.

Refusals are `SchemaVersionError`s (exit 2); nothing is written to a refused database.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from recommender.errors import SchemaVersionError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection, Engine

# The first revision: the schema of recsys 0.1.0, as Base.metadata.create_all made it.
BASELINE = "0001_baseline"
# The newest revision in migrations/versions (tests/test_storage_migrations.py checks that it
# is alembic's head, so a new migration cannot be forgotten here).
HEAD = "0001_baseline"
MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
UPGRADE_COMMAND = "recsys db upgrade"
_PG_SCHEMA_LOCK = 0x7265_6373  # advisory lock key ("recs") serialising schema changes
NEWER_RECSYS_COMMAND = "pip install --upgrade recsys"


def ensure_schema(engine: Engine, *, create: bool = True) -> None:
    """Make sure `engine`'s database is at `HEAD`, creating it when it is new (`create`).

    With `create=False` nothing is written: an unstamped database passes (the caller
    tolerates missing tables); a stamped one at another revision is refused all the same.
    """
    with engine.connect() as conn:
        revision = stamped_revision(conn)
    if revision == HEAD:
        return
    if revision is None:
        if not create:
            return
        revision = _bootstrap(engine)
        if revision == HEAD:
            return
    raise mismatch_error(engine, revision)


def stamped_revision(conn: Connection) -> str | None:
    """The revision recorded in `alembic_version`; None when there is none (new or older
    than migrations). Several rows (alembic branches, which recsys never makes) are joined."""
    if not conn.dialect.has_table(conn, VERSION_TABLE):
        return None
    rows = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars().all()
    return ",".join(sorted(rows)) or None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the database to `HEAD` in one transaction; (revision before, revision after).

    An unstamped database is adopted as the baseline first (or created at `HEAD` when
    empty). A revision this recsys does not know is refused: it is newer than this recsys.
    """
    with engine.connect() as conn:
        before = stamped_revision(conn)
    if before == HEAD:
        return before, HEAD
    if before is None:
        if _bootstrap(engine) == HEAD:
            return None, HEAD
    elif not _is_known(before):
        raise mismatch_error(engine, before)
    from alembic import command

    with engine.connect() as conn:
        _lock(conn)
        config = _config(conn)
        command.upgrade(config, HEAD)
        conn.commit()
    return before, HEAD


def mismatch_error(engine: Engine, revision: str) -> SchemaVersionError:
    """The one-line refusal for a database at `revision`: what is wrong, then after "; " the
    command that fixes it (the server's error hint)."""
    where = f"database {engine.url.render_as_string(hide_password=True)}"
    if _is_known(revision):
        return SchemaVersionError(
            f"{where} is at schema revision {revision}, older than this recsys ({HEAD});"
            f" back it up, then run '{UPGRADE_COMMAND}' (with the same --home/--database-url)"
        )
    return SchemaVersionError(
        f"{where} is at schema revision {revision}, which this recsys does not know (its"
        f" newest is {HEAD}), a newer recsys wrote it; run '{NEWER_RECSYS_COMMAND}'"
    )


def _bootstrap(engine: Engine) -> str:
    """Stamp an unstamped database, under a write lock (two first opens cannot both create):
    an empty one is created at HEAD, one from before migrations is adopted as BASELINE."""
    from sqlalchemy import inspect

    from recommender.storage.schema import Base  # the ORM classes cost 0.05 s to import

    with engine.connect() as conn:
        _lock(conn)
        revision = stamped_revision(conn)
        if revision is not None:  # another process stamped it while we waited for the lock
            conn.rollback()
            return revision
        from alembic import command

        config = _config(conn)
        if set(inspect(conn).get_table_names()) & set(Base.metadata.tables):
            command.upgrade(config, BASELINE)  # creates only the tables it lacks
            revision = BASELINE
        else:
            Base.metadata.create_all(conn)
            command.stamp(config, HEAD)
            revision = HEAD
        conn.commit()
    return revision


def _lock(conn: Connection) -> None:
    """Begin the transaction that holds the schema change, taking the write lock first:
    SQLite's DDL is then transactional too (a kill leaves the schema as it was). A SQLite
    lock wait that runs out is the engine's DatabaseBusyError (its handle_error hook)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_SCHEMA_LOCK})")


def _config(conn: Connection) -> Config:
    """Alembic's configuration, run on `conn` (migrations/env.py picks it up)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def _is_known(revision: str) -> bool:
    """Whether `revision` is one of this recsys's migrations (then it is older than HEAD)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory(str(MIGRATIONS))
    try:
        return all(script.get_revision(r) is not None for r in revision.split(","))
    except CommandError:
        return False
