"""The home folder rule: --home or $RECSYS_HOME, else the nearest .recsys upwards, else ./.recsys.

The CLI and the notebooks both go through `Settings.load`, so a notebook opened in
`notebooks/` reads the database `make demo` built in the project root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from recommender.errors import InputError
from recommender.services.settings import Settings, resolve_home
from tests.conftest import run_cli


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp/project/.recsys and tmp/project/notebooks/deeper, no RECSYS_* in the environment."""
    monkeypatch.delenv("RECSYS_HOME", raising=False)
    monkeypatch.delenv("RECSYS_DATABASE_URL", raising=False)
    root = tmp_path / "project"
    (root / ".recsys").mkdir(parents=True)
    (root / "notebooks" / "deeper").mkdir(parents=True)
    return root


def _no_home_above(folder: Path) -> None:
    taken = [p / ".recsys" for p in (folder, *folder.parents) if (p / ".recsys").is_dir()]
    if taken:
        pytest.skip(f"{taken[0]} exists on this machine, so no folder here lacks a home")


def test_an_ancestor_home_is_found_from_a_subfolder(project: Path):
    assert resolve_home(cwd=project / "notebooks" / "deeper") == (
        project / ".recsys",
        f"the nearest .recsys at or above {project / 'notebooks' / 'deeper'}",
    )
    assert resolve_home(cwd=project)[0] == project / ".recsys"


def test_the_nearest_home_wins(project: Path):
    nearer = project / "notebooks" / ".recsys"
    nearer.mkdir()
    assert resolve_home(cwd=project / "notebooks" / "deeper")[0] == nearer


def test_a_file_named_recsys_is_not_a_home(project: Path):
    (project / "notebooks" / ".recsys").write_text("not a folder")
    assert resolve_home(cwd=project / "notebooks")[0] == project / ".recsys"


def test_the_environment_wins_over_an_ancestor(project: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RECSYS_HOME", str(project / "elsewhere"))
    assert resolve_home(cwd=project / "notebooks") == (project / "elsewhere", "$RECSYS_HOME")


def test_an_explicit_home_wins_over_the_environment(project: Path, monkeypatch):
    monkeypatch.setenv("RECSYS_HOME", str(project / "elsewhere"))
    assert resolve_home(project / "flag", cwd=project / "notebooks") == (project / "flag", "--home")


def test_without_any_home_the_current_folder_gets_one(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("RECSYS_HOME", raising=False)
    lone = tmp_path / "lone"
    lone.mkdir()
    _no_home_above(lone)
    home, source = resolve_home(cwd=lone)
    assert home == lone / ".recsys"
    assert source == f"no .recsys in {lone} or above it, so ./.recsys"
    assert not home.exists()  # resolving creates nothing


def test_load_uses_the_working_directory_and_puts_sqlite_in_the_home(project: Path, monkeypatch):
    monkeypatch.chdir(project / "notebooks")
    settings = Settings.load()
    assert settings.home == project / ".recsys"
    assert settings.database_url == f"sqlite:///{project / '.recsys' / 'recsys.db'}"
    monkeypatch.setenv("RECSYS_DATABASE_URL", "sqlite:////somewhere/else.db")
    assert Settings.load().database_url == "sqlite:////somewhere/else.db"
    assert Settings.load(database_url="sqlite:////flag.db").database_url == "sqlite:////flag.db"


def test_a_reader_never_creates_an_empty_database(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("RECSYS_HOME", raising=False)
    monkeypatch.delenv("RECSYS_DATABASE_URL", raising=False)
    lone = tmp_path / "notebooks"
    lone.mkdir()
    _no_home_above(lone)
    with pytest.raises(InputError) as caught:
        Settings.load(cwd=lone).existing_engine()
    assert str(caught.value) == (
        f"no recsys database at {lone / '.recsys' / 'recsys.db'} (home {lone / '.recsys'}:"
        f" no .recsys in {lone} or above it, so ./.recsys); run `recsys etl demo` in the"
        " project folder first, or set RECSYS_HOME"
    )
    assert list(lone.iterdir()) == []  # no folder, no database file


def test_a_reader_opens_the_database_that_exists(project: Path):
    settings = Settings.load(cwd=project / "notebooks")
    settings.engine().dispose()  # what a writer (`recsys etl ...`) does first
    engine = settings.existing_engine()
    assert engine.url.database == str(project / ".recsys" / "recsys.db")
    engine.dispose()


def test_the_cli_in_a_subfolder_uses_the_project_home(project: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
    listens = project / "plays.csv"
    listens.write_text("user,track,count\nu1,t1,3\nu2,t1,1\nu2,t2,5\n")
    loaded = run_cli(["--quiet", "etl", "csv", "--listens", str(listens)], env, cwd=project)
    assert loaded.returncode == 0, loaded.stderr
    assert (project / ".recsys" / "recsys.db").is_file()

    stats = run_cli(["db", "stats", "--json"], env, cwd=project / "notebooks" / "deeper")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["counts"]["listens"] == 3
    assert sorted(p.name for p in (project / "notebooks").rglob("*")) == ["deeper"]
