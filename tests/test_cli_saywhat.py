"""Say what happened (issue 14.6): a full disk, a kill after commit, a read-only home, odd
--home names, devices as input files and huge echoed values each end as one accurate
line, the right exit code and a run log that says what committed."""

from __future__ import annotations

import errno
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from recommender.errors import NoSpaceError, shown
from recommender.storage.engine import make_engine
from tests.conftest import run_cli

OK = "user,track,count\nu1,t1,3\nu2,t1,2\nu2,t2,1\n"


def one_line(result, code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def runs(url: str) -> list[tuple]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, status, rows_loaded, message FROM etl_runs ORDER BY id")
        ).all()
        listens = conn.execute(text("SELECT COUNT(*) FROM listens")).scalar_one()
    engine.dispose()
    return [tuple(r) for r in rows] + [("listens", listens)]


def run_script(script: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    """`recsys` in a real process with a fault injected first (the script's own lines)."""
    code = textwrap.dedent(script) + "\nfrom recommender.cli.app import main\nmain(sys.argv[1:])\n"
    return subprocess.run(
        [sys.executable, "-c", code, *kwargs.pop("args")],
        env=env,
        capture_output=True,
        text=True,
        **kwargs,
    )


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_a_device_fifo_or_directory_is_named_not_file_not_found(recsys_env, tmp_path, kind):
    path = {"device": Path("/dev/zero"), "fifo": tmp_path / "pipe", "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    result = run_cli(["etl", "csv", "--listens", str(path)], recsys_env, timeout=60)
    line = one_line(result, 2)
    said = {"device": "is a device", "fifo": "is a FIFO", "directory": "is a directory"}[kind]
    assert f"{path}: {said} (named pipe)" in line if kind == "fifo" else f"{path}: {said}" in line
    assert "give a regular file" in line and "not found" not in line


def test_an_echoed_value_is_clipped_with_an_ellipsis(recsys_env, tmp_path):
    (tmp_path / "ok.csv").write_text(OK)
    huge = "x" * 100_000
    result = run_cli(
        ["etl", "csv", "--listens", str(tmp_path / "ok.csv"), "--delimiter", huge], recsys_env
    )
    line = one_line(result, 2)
    assert f"{'x' * 80!r}… (100,000 characters)" in line and len(line) < 300
    assert shown("short") == "'short'"
    assert shown("a\nb" * 50) == repr(("a\nb" * 50)[:80]) + "… (150 characters)"


@pytest.mark.parametrize("name", ["h?mode=ro", "h#frag", "h%41b"])
def test_a_home_named_like_url_syntax_is_a_folder(recsys_env, tmp_path, name):
    (tmp_path / "ok.csv").write_text(OK)
    env = {k: v for k, v in recsys_env.items() if k != "RECSYS_DATABASE_URL"}
    home = tmp_path / name
    result = run_cli(
        ["-q", "--home", str(home), "etl", "csv", "--listens", str(tmp_path / "ok.csv"), "--json"],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr
    assert (home / "recsys.db").is_file()
    assert runs(
        f"sqlite:///{home / 'recsys.db'}".replace("?", "%3F")
        .replace("#", "%23")
        .replace("%41", "%2541")
    ) == [
        (1, "ok", 3, None),
        ("listens", 3),
    ]


DISK_FULL_AT_RECORD = """
import sys, sqlalchemy.exc
import etl.runs, etl.csv_source
def full(conn, summary, **kw):
    if conn.dialect.name == "postgresql":
        import psycopg.errors
        orig = psycopg.errors.DiskFull('could not extend file "base/1/2": No space left on device')
    else:
        import sqlite3
        orig = sqlite3.OperationalError("database or disk is full")
    raise sqlalchemy.exc.OperationalError("UPDATE etl_runs", {}, orig)
etl.csv_source.record = full
"""


def test_a_full_disk_in_a_load_keeps_the_good_rows_and_says_nothing_committed(
    recsys_env, tmp_path, database_url
):
    (tmp_path / "ok.csv").write_text(OK)
    (tmp_path / "more.csv").write_text("user,track,count\nu3,t3,1\n")
    assert (
        run_cli(["-q", "etl", "csv", "--listens", str(tmp_path / "ok.csv")], recsys_env).returncode
        == 0
    )
    result = run_script(
        DISK_FULL_AT_RECORD,
        recsys_env,
        args=["etl", "csv", "--listens", str(tmp_path / "more.csv")],
    )
    line = one_line(result, 1)
    assert line.startswith("error: no space left on device")
    assert "free space and rerun (etl run 2 failed, nothing committed)" in line
    recorded = runs(database_url)
    assert recorded[0] == (1, "ok", 3, None) and recorded[-1] == ("listens", 3)
    assert recorded[1][:3] == (2, "failed", 0)
    assert recorded[1][3].endswith("(nothing committed)")


KILL_AFTER_COMMIT = """
import os, signal, sys
from contextlib import contextmanager
import etl.csv_source
original = etl.csv_source.bulk_transaction
@contextmanager
def then_die(engine):
    with original(engine) as writer:
        yield writer
    os.kill(os.getpid(), signal.SIGKILL)  # the rows and the run's 'ok' have committed
etl.csv_source.bulk_transaction = then_die
"""


def test_a_load_killed_after_its_commit_stays_ok_not_interrupted(
    recsys_env, tmp_path, database_url
):
    (tmp_path / "ok.csv").write_text(OK)
    killed = run_script(
        KILL_AFTER_COMMIT, recsys_env, args=["etl", "csv", "--listens", str(tmp_path / "ok.csv")]
    )
    assert killed.returncode == -signal.SIGKILL
    again = run_cli(["-q", "etl", "csv", "--listens", str(tmp_path / "ok.csv")], recsys_env)
    assert again.returncode == 0, again.stderr  # the next run retires stale runs first
    assert runs(database_url) == [(1, "ok", 3, None), (2, "ok", 3, None), ("listens", 3)]


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_sqlite_writes_cut_by_a_file_size_limit(recsys_env, tmp_path, sqlite_url):
    recsys_env["RECSYS_DATABASE_URL"] = sqlite_url
    (tmp_path / "ok.csv").write_text(OK)
    big = tmp_path / "big.csv"
    big.write_text(
        "user,track,count\n" + "".join(f"u{i % 997},t{i % 2003},1\n" for i in range(20_000))
    )
    assert (
        run_cli(["-q", "etl", "csv", "--listens", str(tmp_path / "ok.csv")], recsys_env).returncode
        == 0
    )
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    result = run_cli(
        ["etl", "csv", "--listens", str(big)],
        recsys_env,
        preexec_fn=_limit_file_size(db.stat().st_size + 16_384),
    )
    line = one_line(result, 1)
    assert f"on the database {db}" in line and "free space and rerun" in line
    assert "(etl run 2 failed, nothing committed)" in line
    assert runs(sqlite_url)[0] == (1, "ok", 3, None)
    assert runs(sqlite_url)[1][:3] == (2, "failed", 0) and runs(sqlite_url)[-1] == ("listens", 3)


def test_a_big_wal_left_behind_is_truncated_by_the_next_load(tmp_path):
    from etl.csv_source import load_csv

    db = tmp_path / "recsys.db"
    url = f"sqlite:///{db}"
    make_engine(url).dispose()
    leave_wal = f"""
import os, sqlite3
c = sqlite3.connect({str(db)!r}); c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA wal_autocheckpoint=0"); c.execute("CREATE TABLE pad (x BLOB)")
with c: c.executemany("INSERT INTO pad VALUES (?)", [(os.urandom(4096),)] * 1000)
os._exit(0)  # no checkpoint on close: the WAL stays, as after a full disk
"""
    subprocess.run([sys.executable, "-c", leave_wal], check=True)
    wal = Path(f"{db}-wal")
    assert wal.stat().st_size > 4_000_000
    (tmp_path / "ok.csv").write_text(OK)
    holder = sqlite3.connect(db)  # an open reader: closing the load's engine will not delete it
    try:
        holder.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        engine = make_engine(url)
        load_csv(engine, tmp_path / "ok.csv")
        engine.dispose()
        assert wal.stat().st_size < 500_000
    finally:
        holder.close()


def test_a_full_disk_writing_a_model_is_one_line(tmp_path):
    from recommender.services.bundles import write_version

    class FullDisk:
        def save(self, target, manifest):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target / "x.npy"))

    with pytest.raises(NoSpaceError) as caught:
        write_version(tmp_path / "models", "recommender", "v1", FullDisk(), {})
    assert str(caught.value) == (
        f"no space left on device writing the model to {tmp_path / 'models' / 'recommender'};"
        " free space and rerun"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes")
def test_a_read_only_home_says_so(tmp_path):
    work = Path(tempfile.mkdtemp())
    try:
        work.chmod(0o755)
        (work / "ok.csv").write_text(OK)
        home = work / "home"
        home.mkdir()
        env = {
            k: v for k, v in os.environ.items() if k not in ("RECSYS_DATABASE_URL", "RECSYS_HOME")
        }
        env["RECSYS_HOME"] = str(home)
        assert run_cli(["-q", "etl", "csv", "--listens", str(work / "ok.csv")], env).returncode == 0
        (home / "recsys.db").chmod(0o444)
        home.chmod(0o555)
        as_user = {"user": 65534} if os.geteuid() == 0 else {}  # root ignores modes
        result = run_cli(
            ["etl", "csv", "--listens", str(work / "ok.csv")], env, cwd=work, **as_user
        )
        line = one_line(result, 1)
        assert "read-only" in line and str(home) in line and "RECSYS_DATABASE_URL" not in line
    finally:
        for path in (work / "home", work / "home" / "recsys.db"):
            if path.exists():
                path.chmod(0o755)
        subprocess.run(["rm", "-rf", str(work)], check=False)
