"""ETL throughput: `recsys etl csv` into SQLite and PostgreSQL vs a plain bulk insert.

The input is a synthetic listens CSV (bench.synthetic) of the Last.fm-360K shape at
--scale 1.0 (17.5M rows), and at least 2M rows at smaller scales. Ours is the whole
CLI process, end to end (start-up, parse, validate, id mapping, indexed upserts,
commit), on a fresh database each, then again on the loaded database (a no-change
reload: the incremental merge path). The reference, measured in the same run, is the
floor: the same rows, already in memory, bulk-inserted into a bare table with no
indexes (sqlite3 executemany / psycopg COPY of the file). Also: peak RSS, and the
HetRec 2K load time when ../shared/data is present.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench.harness import BenchContext, Result, run_measured
from bench.synthetic import LASTFM_360K, write_listens

POSTGRES_URL = os.environ.get(
    "RECSYS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
HETREC = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hetrec2011-lastfm-2k"
MIN_ROWS = 2_000_000


def _shape(scale: float) -> dict[str, int]:
    rows = min(LASTFM_360K["rows"], max(MIN_ROWS, int(LASTFM_360K["rows"] * scale)))
    fraction = rows / LASTFM_360K["rows"]
    return {
        "rows": rows,
        "users": max(1000, int(LASTFM_360K["users"] * fraction)),
        "items": max(1000, int(LASTFM_360K["items"] * fraction)),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cli(database_url: str, *args: str) -> tuple[float, float, dict, float]:
    """(wall s, peak RSS MB, JSON summary, client CPU s) of one `recsys ... --json` process.

    CPU seconds of the client are reported too: on a shared machine wall time moves with
    the neighbours' load, CPU time much less (SQLite runs entirely in the client).
    """
    env = dict(os.environ, RECSYS_DATABASE_URL=database_url)
    env.pop("RECSYS_DEBUG", None)
    cmd = [sys.executable, "-m", "recommender.cli.app", "--quiet", *args, "--json"]
    cpu_before = _children_cpu()
    seconds, rss, proc = run_measured(cmd, env=env)
    cpu = _children_cpu() - cpu_before
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip().splitlines()[:3]}")
    return seconds, rss, json.loads(proc.stdout), cpu


def _sqlite_reference(path: Path, db: Path) -> tuple[float, float]:
    """(wall s, CPU s) to executemany the file's rows (parsed beforehand, not timed)."""
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(path)
    rows = list(zip(*(table.column(i).to_pylist() for i in range(3)), strict=True))
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE bare (user TEXT, track TEXT, count INTEGER)")
    started, started_cpu = time.perf_counter(), time.process_time()
    con.executemany("INSERT INTO bare VALUES (?, ?, ?)", rows)
    con.commit()
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    con.close()
    db.unlink()
    return seconds, cpu


def _postgres_reference(path: Path, url: str) -> float:
    """Seconds to COPY the file into a bare table (no indexes, no validation)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        dbname=u.database,
        options=u.query.get("options"),
    ) as conn:
        conn.execute('CREATE TABLE bare ("user" TEXT, track TEXT, count BIGINT)')
        started = time.perf_counter()
        with (
            conn.cursor().copy("COPY bare FROM STDIN (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as fh,
        ):
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        return time.perf_counter() - started


def run(ctx: BenchContext) -> list[Result]:
    shape = _shape(ctx.scale)
    listens = ctx.work_dir / "etl" / "listens.csv"
    started = time.perf_counter()
    write_listens(listens, users=shape["users"], items=shape["items"], rows=shape["rows"], seed=0)
    note = f"{shape['rows']:,} rows, {shape['users']:,} users, {shape['items']:,} items"
    print(f"generated {note} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    results: list[Result] = []

    db = ctx.work_dir / "etl" / "load.db"
    load = os.getloadavg()[0]
    seconds, rss, summary, cpu = _cli(f"sqlite:///{db}", "etl", "csv", "--listens", str(listens))
    reference, reference_cpu = _sqlite_reference(listens, ctx.work_dir / "etl" / "reference.db")
    results.append(
        Result(
            "etl",
            "csv listens -> SQLite",
            summary["rows_in"] / seconds,
            "rows/s",
            baseline=shape["rows"] / reference,
            peak_rss_mb=rss,
            note=f"{note}; {seconds:.1f} s end to end; ref: sqlite3 executemany into a bare "
            f"table; load average {load:.1f}",
        )
    )
    results.append(
        Result(
            "etl",
            "csv listens -> SQLite, per CPU second",
            summary["rows_in"] / cpu,
            "rows/CPU-s",
            baseline=shape["rows"] / reference_cpu,
            note=f"client CPU {cpu:.1f} s, all included; ref CPU {reference_cpu:.1f} s",
        )
    )
    seconds_again, _, _, _ = _cli(f"sqlite:///{db}", "etl", "csv", "--listens", str(listens))
    results.append(
        Result(
            "etl",
            "csv listens reload (no change) -> SQLite",
            shape["rows"] / seconds_again,
            "rows/s",
        )
    )
    for leftover in db.parent.glob("*.db*"):
        leftover.unlink()

    parquet = write_listens(
        listens.with_suffix(".parquet"),
        users=shape["users"],
        items=shape["items"],
        rows=shape["rows"],
        seed=0,
    )
    seconds, rss, summary, _ = _cli(f"sqlite:///{db}", "etl", "csv", "--listens", str(parquet))
    results.append(
        Result(
            "etl",
            "parquet listens -> SQLite",
            summary["rows_in"] / seconds,
            "rows/s",
            peak_rss_mb=rss,
            note=f"same rows as the CSV; {seconds:.1f} s end to end",
        )
    )
    parquet.unlink()
    for leftover in db.parent.glob("*.db*"):
        leftover.unlink()

    results.extend(_postgres(listens, shape, note))

    if HETREC.is_dir():
        het_db = ctx.work_dir / "etl" / "hetrec.db"
        seconds, rss, summary, _ = _cli(f"sqlite:///{het_db}", "etl", "lastfm-2k", str(HETREC))
        results.append(
            Result(
                "etl",
                "HetRec 2K load -> SQLite",
                seconds,
                "s",
                peak_rss_mb=rss,
                note=f"{summary['rows_in']:,} rows in 4 files, end to end",
            )
        )
        het_db.unlink(missing_ok=True)
    listens.unlink(missing_ok=True)
    return results


def _postgres(listens: Path, shape: dict, note: str) -> list[Result]:
    from recommender.storage.scratch import scratch_schema

    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_schema(POSTGRES_URL, prefix="recsys_bench"))
        except Exception as exc:  # no server: report it, the other results still count
            return [
                Result(
                    "etl",
                    "csv listens -> PostgreSQL",
                    float("nan"),
                    "rows/s",
                    note=f"skipped: {exc}",
                )
            ]
        return _postgres_runs(url, listens, shape, note)


def _postgres_runs(url: str, listens: Path, shape: dict, note: str) -> list[Result]:
    load = os.getloadavg()[0]
    seconds, rss, summary, cpu = _cli(url, "etl", "csv", "--listens", str(listens))
    reference = _postgres_reference(listens, url)
    seconds_again, _, again, cpu_again = _cli(url, "etl", "csv", "--listens", str(listens))
    assert sum(again["loaded_by_table"].values()) == 0, again  # idempotent
    return [
        Result(
            "etl",
            "csv listens -> PostgreSQL",
            summary["rows_in"] / seconds,
            "rows/s",
            baseline=shape["rows"] / reference,
            peak_rss_mb=rss,
            note=f"{note}; {seconds:.1f} s end to end, client CPU {cpu:.1f} s; "
            f"ref: psycopg COPY into a bare table; load average {load:.1f}",
        ),
        Result(
            "etl",
            "csv listens reload (no change) -> PostgreSQL",
            shape["rows"] / seconds_again,
            "rows/s",
            note=f"{seconds_again:.1f} s end to end, client CPU {cpu_again:.1f} s",
        ),
    ]
