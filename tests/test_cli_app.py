"""The CLI's error contract: one line on stderr, exit 2 for usage/input, 1 for runtime."""

import pytest

from tests.conftest import run_cli


@pytest.fixture
def env(tmp_path):
    return {"RECSYS_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--bogus"], "No such option: --bogus"),
        (["db", "nope"], "No such command 'nope'"),
        (["db", "rejects", "--top", "x"], "Invalid value for '-n' / '--top'"),
        (["recommend", "--user", "u", "-n", "0"], "Invalid value for '-n' / '--top'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(env, args, message):
    result = run_cli(args, env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "--help" in lines[0]


def test_url_without_installed_driver_is_input_error(env):
    result = run_cli(["--database-url", "mysql://x/y", "db", "stats"], env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "needs a driver that is not installed" in result.stderr


def test_garbage_sqlite_file_is_one_line_exit_1(env, tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_text("this is not a database\n" * 100)
    result = run_cli(["--database-url", f"sqlite:///{garbage}", "db", "stats"], env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: database error: file is not a database (check RECSYS_DATABASE_URL)"
    ]


def test_help_still_works(env):
    result = run_cli(["--help"], env)
    assert result.returncode == 0 and "recommend" in result.stdout


def test_the_cli_starts_without_the_numeric_or_database_stack():
    """`recsys` parses and prints help before any command needs numpy, SQLAlchemy or a
    tuner: commands import those lazily, so `recsys recommend` starts fast."""
    import subprocess
    import sys

    heavy = ("numpy", "scipy", "pandas", "sqlalchemy", "optuna", "statsmodels", "alembic")
    code = (
        "import sys, recommender.cli.app\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
