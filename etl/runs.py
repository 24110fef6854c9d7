"""The etl_runs lifecycle and the summary a load returns.

A run row is committed as 'running' in its own transaction before any data is
written, so a crash leaves a visible trace. The row's counts and its 'ok' are written
by `record` inside the data's own transaction(s), so the run log says what committed
and nothing else: a load killed (or out of disk) after its commit is 'ok' with its
counts, never 'interrupted' or 'failed'; one that fails before keeps the counts of what
did commit (0 for a one-transaction load) and says so. A run left 'running' by a
process that no longer exists (same host, dead pid) is marked 'interrupted' by the next
run. `tracked_run` is that lifecycle for a loader: every source goes through it, so the
statuses mean the same thing whichever source wrote them. On SQLite it starts by
truncating a WAL a full disk left behind.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from recommender.core.process import pid_alive
from recommender.errors import NoSpaceError, RecsysError, RecsysWarning
from recommender.storage.failures import describe, is_disk_full
from recommender.storage.schema import EtlRun

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    run_id: int
    source: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    # rows inserted or changed per table (0 everywhere when reloading the same input)
    loaded_by_table: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # 'ok' was written in the data's own transaction (`record`): nothing left to finish
    recorded: bool = field(default=False, repr=False)

    def add_rejects(self, rejects) -> None:
        counts = Counter(self.rejected_by_reason)
        counts.update(r.reason for r in rejects)
        self.rejected_by_reason = dict(sorted(counts.items()))
        self.rows_rejected = sum(counts.values())

    def add_loaded(self, table: str, count: int) -> None:
        self.loaded_by_table[table] = self.loaded_by_table.get(table, 0) + int(count)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _dead(pid: int) -> bool:
    """A run's process is gone (a run that recorded no PID is never taken for dead)."""
    return pid > 0 and not pid_alive(pid)


def mark_stale_runs(engine: Engine) -> int:
    """Mark 'running' rows whose process (on this host) is gone as 'interrupted'."""
    host = socket.gethostname()
    stale: list[int] = []
    with engine.begin() as conn:
        for run_id, arguments in conn.execute(
            select(EtlRun.id, EtlRun.arguments).where(EtlRun.status == "running")
        ):
            try:
                owner = json.loads(arguments or "{}").get("_process", {})
            except ValueError:
                owner = {}
            if owner.get("host") == host and _dead(int(owner.get("pid", 0))):
                stale.append(run_id)
        if stale:
            conn.execute(
                update(EtlRun)
                .where(EtlRun.id.in_(stale))
                .values(
                    status="interrupted",
                    finished_at=_now(),
                    message="process ended before finishing (the counts are what committed)",
                )
            )
    return len(stale)


def reclaim_wal(engine: Engine) -> None:
    """SQLite: checkpoint and truncate the WAL, which a write that ran out of disk can
    leave at its full size (tens of MB) until a checkpoint resets it. Best effort: a busy
    reader or a still-full disk only means it is tried again next run."""
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception as exc:
        log.info("WAL checkpoint skipped: %s", exc)


def start_run(engine: Engine, source: str, arguments: dict[str, Any]) -> int:
    """Commit a 'running' row and return its id (after retiring stale runs)."""
    reclaim_wal(engine)
    mark_stale_runs(engine)
    payload = dict(arguments, _process={"host": socket.gethostname(), "pid": os.getpid()})
    with engine.begin() as conn:
        run_id = conn.execute(
            EtlRun.__table__.insert()
            .values(
                source=source,
                arguments=json.dumps(payload, default=str),
                status="running",
                started_at=_now(),
                rows_in=0,
                rows_loaded=0,
                rows_rejected=0,
            )
            .returning(EtlRun.id)
        ).scalar_one()
    return int(run_id)


def record(
    conn: Connection, summary: RunSummary, *, done: bool = True, message: str | None = None
) -> None:
    """Write the run's counts (and, if `done`, 'ok') on `conn`, INSIDE the transaction
    that writes the data: they commit together or not at all."""
    values: dict[str, Any] = {
        "rows_in": summary.rows_in,
        "rows_loaded": summary.rows_loaded,
        "rows_rejected": summary.rows_rejected,
    }
    if done:
        values |= {"status": "ok", "finished_at": _now(), "message": message}
    conn.execute(update(EtlRun).where(EtlRun.id == summary.run_id).values(**values))
    summary.recorded = done


def finish_run(
    engine: Engine, summary: RunSummary, *, status: str, message: str | None = None
) -> None:
    """Close a run that did not `record` its end. An 'ok' run's counts are the summary's;
    any other keeps the counts its data transactions committed."""
    values: dict[str, Any] = {"status": status, "finished_at": _now(), "message": message}
    if status == "ok":
        values |= {
            "rows_in": summary.rows_in,
            "rows_loaded": summary.rows_loaded,
            "rows_rejected": summary.rows_rejected,
        }
    with engine.begin() as conn:
        conn.execute(update(EtlRun).where(EtlRun.id == summary.run_id).values(**values))


def _committed(engine: Engine, run_id: int) -> tuple[str, int] | None:
    """(status, rows_loaded) as committed, or None when the database cannot say."""
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(EtlRun.status, EtlRun.rows_loaded).where(EtlRun.id == run_id)
            ).one()
    except Exception:
        return None
    return row.status, int(row.rows_loaded or 0)


@contextmanager
def tracked_run(
    engine: Engine,
    source: str,
    arguments: dict[str, Any],
    *,
    ok_message: Callable[[], str | None] | None = None,
) -> Iterator[RunSummary]:
    """Start a run, yield its summary, finish it as 'ok', 'failed' or 'interrupted'.

    The loader calls `record` in its data transaction; what the run log then says is
    what committed. Ctrl-C is 'interrupted' (the same status a killed process gets from
    `mark_stale_runs`), not 'failed': nothing was wrong with the input. The exception
    that ended the load is what the caller sees (a full disk as one NoSpaceError line
    saying what committed); if recording the failure fails too (database gone), that
    second error is logged and noted on the original. A failure to close a run whose data
    committed is a warning, never the load's failure. `ok_message()`: an ok run's message.
    """
    summary = RunSummary(run_id=start_run(engine, source, arguments), source=source)
    started = time.perf_counter()
    try:
        yield summary
    except BaseException as exc:
        summary.seconds = time.perf_counter() - started
        committed = _committed(engine, summary.run_id)
        if committed is not None and committed[0] == "ok":
            raise  # the data and its 'ok' committed together; what failed came after
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        loaded = committed[1] if committed else 0
        what = f"{loaded} rows committed before it" if loaded else "nothing committed"
        try:
            finish_run(engine, summary, status=status, message=f"{_first_line(exc)} ({what})")
        except Exception as secondary:
            log.warning("could not mark etl run %s %s: %s", summary.run_id, status, secondary)
            exc.add_note(
                f"etl run {summary.run_id} is still marked 'running': recording "
                f"'{status}' failed ({_first_line(secondary)})"
            )
        said = describe(exc, engine.url.render_as_string(hide_password=True))
        if said is not None and hasattr(exc, "orig"):  # a database failure we can explain
            error = NoSpaceError if is_disk_full(exc) else RecsysError
            raise error(f"{said} (etl run {summary.run_id} {status}, {what})") from exc
        raise
    summary.seconds = time.perf_counter() - started
    if summary.recorded:
        return
    try:
        finish_run(
            engine, summary, status="ok", message=ok_message() if ok_message is not None else None
        )
    except Exception as exc:  # the data is in; only closing the run log failed
        warnings.warn(
            f"the load committed, but etl run {summary.run_id} could not be marked 'ok'"
            f" ({describe(exc, str(engine.url)) or _first_line(exc)})",
            RecsysWarning,
            stacklevel=3,
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text.strip() else type(exc).__name__
