"""Shared fixtures: a fresh database per test on SQLite and on the real PostgreSQL server.

PostgreSQL tests get their own schema (dropped afterwards), so they never touch
anything else in the `test` database. Where PostgreSQL is unreachable they skip
locally but fail under CI (CI=true), so a broken server can never hide behind a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine

from recommender.storage.engine import make_engine
from recommender.storage.scratch import scratch_schema

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
POSTGRES_URL = os.environ.get(
    "RECSYS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (shared test data not available)")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'recsys.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections live in a fresh schema of their own, dropped at teardown."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_schema(POSTGRES_URL, prefix="recsys_test"))
        except Exception as exc:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {exc}")
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def recsys_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """Environment for running the `recsys` CLI as a subprocess against the test database."""
    env = dict(os.environ)
    env["RECSYS_HOME"] = str(tmp_path / "home")
    env["RECSYS_DATABASE_URL"] = database_url
    env.pop("RECSYS_DEBUG", None)
    return env


def run_cli(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run `recsys ARGS` in a real process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "recommender.cli.app", *args],
        env=env,
        capture_output=True,
        text=True,
        **kwargs,
    )


def require_spark() -> None:
    """Skip without Java or pyspark, except under CI, where a missing Spark fails."""
    from recommender.spark.session import spark_available

    reason = spark_available()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"Spark tests must run under CI, but {reason}")
    pytest.skip(f"Spark engine unavailable: {reason} (pip install '.[spark]' and Java 17+)")


def require_fluidsynth():
    """The fluidsynth program and GM sound font; skip without them, except under CI."""
    from recommender.audio.notation import find_fluidsynth

    fluid = find_fluidsynth()
    if fluid is not None:
        return fluid
    missing = "fluidsynth or a GM sound font is missing"
    if os.environ.get("CI"):
        pytest.fail(f"FluidSynth tests must run under CI, but {missing}")
    pytest.skip(f"{missing} (apt-get install fluidsynth fluid-soundfont-gm)")


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """local[2], two shuffle partitions, no UI; pandas conversion is forbidden."""
    require_spark()
    from pyspark.sql import DataFrame

    from recommender.spark.session import spark_session

    def no_pandas(self, *args, **kwargs):
        raise AssertionError("recsys must move Spark data through Parquet/Arrow, not pandas")

    original = DataFrame.toPandas
    DataFrame.toPandas = no_pandas
    session = spark_session(master="local[2]", shuffle_partitions=2)
    yield session
    session.stop()
    DataFrame.toPandas = original
