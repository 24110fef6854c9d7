"""The etl_runs lifecycle and the summary a load returns.

A run row is committed as 'running' in its own transaction before any data is
written, so a crash leaves a visible trace; the data goes in one transaction; the
row is finished ('ok' or 'failed') afterwards. A run left 'running' by a process that
no longer exists (same host, dead pid) is marked 'interrupted' by the next run.
"""

from __future__ import annotations

import json
import os
import socket
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update

from recommender.storage.schema import EtlRun


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
