"""Schema migrations: the revision check on every open, `recsys db upgrade`, and the migrations
agreeing with schema.py, on SQLite and PostgreSQL.

A database "from before migrations" is a loaded database without `alembic_version` (and, like
the oldest ones, without a later table); a newer one carries a revision id no migration has;
an older one is at the baseline while a synthetic second revision (in a copy of the migrations
folder, patched in by `_cli_with_migrations`) is the head.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, text

from recommender.errors import SchemaVersionError
from recommender.storage import schema_version
from recommender.storage.engine import connect_engine, make_engine
from recommender.storage.schema import Base
from tests.conftest import run_cli

SECOND = """
import sqlalchemy as sa
from alembic import op

revision = "0002_synthetic"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    op.execute("UPDATE tracks SET note = 'migrated'")
    {fail}


def downgrade():
    pass
"""


def _load(env: dict[str, str], tmp_path: Path) -> None:
    """Two users, three tracks, tags and one quarantined row (in-process: it is not what
    these tests are about, and a CLI process costs seconds on a busy machine)."""
    from etl.csv_source import load_csv

    listens = tmp_path / "listens.csv"
    listens.write_text("user,track,count\nu1,t1,3\nu1,t2,1\nu2,t3,5\nu2,t1,-4\n")
    tags = tmp_path / "tags.csv"
    tags.write_text("user,track,tag\nu1,t1,jazz\nu2,t3,rock\n")
    engine = make_engine(env["RECSYS_DATABASE_URL"])
    try:
        summary = load_csv(engine, listens, tags)
    finally:
        engine.dispose()
    assert summary.rows_rejected == 1


def _rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every recsys table, in a stable order (alembic_version aside)."""
    engine = connect_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    tuple(row)
                    for row in conn.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = connect_engine(url)
    try:
        with engine.connect() as conn:
            return schema_version.stamped_revision(conn)
    finally:
        engine.dispose()


def _sql(url: str, *statements: str) -> None:
    engine = connect_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def _cli_with_migrations(
    folder: Path, head: str, args: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`recsys ARGS` in a real process whose migrations are `folder`, with head `head`."""
    code = (
        "import sys; from pathlib import Path;"
        "import recommender.storage.schema_version as v;"
        "v.MIGRATIONS = Path(sys.argv[1]); v.HEAD = sys.argv[2];"
        "from recommender.cli.app import main; main(sys.argv[3:])"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(folder), head, *args],
        env=env,
        capture_output=True,
        text=True,
    )


def _with_second_revision(tmp_path: Path, *, fail: bool = False) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(schema_version.MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    body = SECOND.replace("{fail}", "raise RuntimeError('disk on fire')" if fail else "")
    (folder / "versions" / "0002_synthetic.py").write_text(body)
    return folder


def test_head_is_the_newest_migration():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(schema_version.MIGRATIONS))
    assert script.get_current_head() == schema_version.HEAD
    assert script.get_base() == schema_version.BASELINE


def test_migrations_build_exactly_schema_py(database_url):
    """Every schema change needs its migration: the migrations, run on an empty database,
    give what schema.py declares (alembic's autogenerate finds nothing to add)."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = connect_engine(database_url)
    try:
        with engine.connect() as conn:
            command.upgrade(schema_version._config(conn), "head")
            conn.commit()
            assert schema_version.stamped_revision(conn) == schema_version.HEAD
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def test_a_new_database_is_created_at_head(database_url):
    engine = make_engine(database_url)
    engine.dispose()
    assert _revision(database_url) == schema_version.HEAD
    assert all(rows == [] for rows in _rows(database_url).values())


def test_database_from_before_migrations_is_adopted_and_keeps_every_row(recsys_env, tmp_path):
    url = recsys_env["RECSYS_DATABASE_URL"]
    _load(recsys_env, tmp_path)
    before = _rows(url)
    assert len(before["listens"]) == 3 and len(before["rejects"]) == 1
    # what recsys 0.1.0 left: no alembic_version, and (the oldest) no track_novelty
    _sql(url, "DROP TABLE alembic_version", "DROP TABLE track_novelty")

    result = run_cli(["db", "upgrade"], recsys_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "database upgraded from schema revision none to 0001_baseline"
    assert _revision(url) == schema_version.BASELINE
    assert _rows(url) == before

    engine = connect_engine(url)
    assert schema_version.upgrade(engine) == (schema_version.BASELINE, schema_version.HEAD)
    engine.dispose()


def test_any_command_adopts_a_database_from_before_migrations(recsys_env, tmp_path):
    url = recsys_env["RECSYS_DATABASE_URL"]
    _load(recsys_env, tmp_path)
    before = _rows(url)
    _sql(url, "DROP TABLE alembic_version")

    result = run_cli(["db", "stats", "--json"], recsys_env)
    assert result.returncode == 0, result.stderr
    assert '"listens": 3' in result.stdout
    assert _revision(url) == schema_version.BASELINE
    assert _rows(url) == before


def test_a_newer_schema_is_refused_with_the_fix(recsys_env, tmp_path):
    url = recsys_env["RECSYS_DATABASE_URL"]
    _load(recsys_env, tmp_path)
    _sql(url, "UPDATE alembic_version SET version_num = '9999_from_the_future'")
    before = _rows(url)

    for args in (["db", "stats"], ["db", "upgrade"], ["serve", "--port", "18777"]):
        _one_error_line(
            run_cli(args, recsys_env, timeout=120),
            "9999_from_the_future",
            "pip install --upgrade recsys",
        )
    with pytest.raises(SchemaVersionError, match="9999_from_the_future"):
        make_engine(url, create_schema=False)  # recommend's read-only open refuses it too
    assert _rows(url) == before
    assert _revision(url) == "9999_from_the_future"


def test_an_older_schema_is_refused_then_upgraded_keeping_every_row(recsys_env, tmp_path):
    url = recsys_env["RECSYS_DATABASE_URL"]
    _load(recsys_env, tmp_path)
    before = _rows(url)
    folder = _with_second_revision(tmp_path)

    refused = _cli_with_migrations(folder, "0002_synthetic", ["db", "stats"], recsys_env)
    _one_error_line(refused, "0001_baseline", "older", "'recsys db upgrade'")
    assert _revision(url) == schema_version.BASELINE

    upgraded = _cli_with_migrations(folder, "0002_synthetic", ["db", "upgrade"], recsys_env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "from schema revision 0001_baseline to 0002_synthetic" in upgraded.stdout
    assert _revision(url) == "0002_synthetic"
    assert _rows(url) == before  # schema.py's columns: every row, every value kept
    engine = connect_engine(url)
    with engine.connect() as conn:
        notes = conn.execute(text("SELECT external_id, note FROM tracks ORDER BY id")).all()
    engine.dispose()
    assert [tuple(n) for n in notes] == [("t1", "migrated"), ("t2", "migrated"), ("t3", "migrated")]


def test_a_failed_upgrade_changes_nothing(recsys_env, tmp_path):
    url = recsys_env["RECSYS_DATABASE_URL"]
    _load(recsys_env, tmp_path)
    before = _rows(url)
    folder = _with_second_revision(tmp_path, fail=True)

    failed = _cli_with_migrations(folder, "0002_synthetic", ["db", "upgrade"], recsys_env)
    assert failed.returncode == 1 and "disk on fire" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert _revision(url) == schema_version.BASELINE
    assert _rows(url) == before
    engine = connect_engine(url)
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("tracks")}
    engine.dispose()
    assert "note" not in columns


def test_the_check_at_head_does_not_import_alembic(sqlite_url):
    make_engine(sqlite_url).dispose()  # created and stamped
    code = (
        "import sys; from recommender.storage.engine import make_engine;"
        f"make_engine({sqlite_url!r}).dispose(); print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("create", [True, False])
def test_unstamped_read_only_open_writes_nothing(sqlite_url, create):
    engine: Engine = make_engine(sqlite_url, create_schema=create)
    engine.dispose()
    expected = schema_version.HEAD if create else None
    assert _revision(sqlite_url) == expected
