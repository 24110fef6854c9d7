"""What a database failure means, in one line a user can act on.

SQLite reports a full disk as "database or disk is full" (or a "disk I/O error" when a
file-size limit cuts a write), a read-only file as "attempt to write a readonly
database" and a folder it cannot create the file in as "unable to open database file";
PostgreSQL reports SQLSTATE 53100 (disk full) and 25006 (read-only transaction). These
say which file or server, why, and what to do, instead of "check RECSYS_DATABASE_URL".
"""

from __future__ import annotations

import os
from pathlib import Path

FREE = "free space and rerun"


def is_disk_full(exc: BaseException) -> bool:
    """Whether a DBAPI error (or what it wraps) says the disk or a size limit is full."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == "53100":
        return True
    text = str(orig).lower()
    return "database or disk is full" in text or "no space left on device" in text


def sqlite_file(url: str | None) -> Path | None:
    """The database file of a SQLite `url` (None for another database or in-memory)."""
    if not url or not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def describe(exc: BaseException, url: str | None) -> str | None:
    """One line for a database failure we understand (None: say it as it is)."""
    orig = getattr(exc, "orig", exc)
    text = str(orig).strip().lower()
    file = sqlite_file(url)
    where = f"the database {file}" if file else "the database"
    if is_disk_full(exc):
        server = "" if file or url is None else " on the database server"
        return f"no space left on device{server} writing {where}; {FREE}"
    if getattr(orig, "sqlstate", None) == "25006":
        return "the database is read-only (a read-only server or role); use a writable one"
    if file is None:
        return None
    if "readonly database" in text or "unable to open database file" in text:
        return _unwritable(file)
    if "disk i/o error" in text:
        return f"disk I/O error on {where} (a full disk or a file-size limit?); {FREE}"
    return None


def _unwritable(file: Path) -> str:
    """Why SQLite cannot open or write `file`: the file, its WAL or its folder."""
    folder = file.parent
    if not folder.is_dir():
        return f"the database folder {folder} does not exist and cannot be created"
    if file.exists() and not os.access(file, os.W_OK):
        return f"the database file {file} is read-only; make it writable or use another --home"
    if not os.access(folder, os.W_OK):
        return (
            f"the home folder {folder} is read-only, so the database {file.name} (and its"
            " journal) cannot be written there; make it writable or use another --home"
        )
    return f"cannot open the database file {file}; check that it is a SQLite database"
