"""The etl_runs lifecycle and the summary a load returns.

A run row is committed as 'running' in its own transaction before any data is
written, so a crash leaves a visible trace; the data goes in one transaction; the
row is finished ('ok' or 'failed') afterwards. A run left 'running' by a process that
no longer exists (same host, dead pid) is marked 'interrupted' by the next run.
`tracked_run` is that lifecycle for a loader: every source goes through it, so the
statuses mean the same thing whichever source wrote them.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
            if owner.get("host") == host and not _pid_alive(int(owner.get("pid", 0)) or -1):
                stale.append(run_id)
        if stale:
            conn.execute(
                update(EtlRun)
                .where(EtlRun.id.in_(stale))
                .values(
                    status="interrupted",
                    finished_at=_now(),
                    message="process ended before finishing",
                )
            )
    return len(stale)


def start_run(engine: Engine, source: str, arguments: dict[str, Any]) -> int:
    """Commit a 'running' row and return its id (after retiring stale runs)."""
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


def finish_run(
    engine: Engine, summary: RunSummary, *, status: str, message: str | None = None
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(EtlRun)
            .where(EtlRun.id == summary.run_id)
            .values(
                status=status,
                finished_at=_now(),
                rows_in=summary.rows_in,
                rows_loaded=summary.rows_loaded,
                rows_rejected=summary.rows_rejected,
                message=message,
            )
        )


@contextmanager
def tracked_run(
    engine: Engine,
    source: str,
    arguments: dict[str, Any],
    *,
    ok_message: Callable[[], str | None] | None = None,
) -> Iterator[RunSummary]:
    """Start a run, yield its summary, finish it as 'ok', 'failed' or 'interrupted'.

    Ctrl-C is 'interrupted' (the same status a killed process gets from
    `mark_stale_runs`), not 'failed': nothing was wrong with the input. The exception
    that ended the load is what the caller must see, so if recording the failure fails
    too (database gone), that second error is logged and noted on the original, which
    is re-raised. `ok_message()` gives the message of a successful run.
    """
    summary = RunSummary(run_id=start_run(engine, source, arguments), source=source)
    started = time.perf_counter()
    try:
        yield summary
    except BaseException as exc:
        summary.seconds = time.perf_counter() - started
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            finish_run(engine, summary, status=status, message=_first_line(exc))
        except Exception as secondary:
            log.warning("could not mark etl run %s %s: %s", summary.run_id, status, secondary)
            exc.add_note(
                f"etl run {summary.run_id} is still marked 'running': recording "
                f"'{status}' failed ({_first_line(secondary)})"
            )
        raise
    summary.seconds = time.perf_counter() - started
    finish_run(
        engine, summary, status="ok", message=ok_message() if ok_message is not None else None
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text.strip() else type(exc).__name__
