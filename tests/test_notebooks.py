"""Every notebook runs top to bottom on a small demo database, so none of them can rot.

They run as a user opens them: the kernel's working directory is a `notebooks/`
folder beside the project's `.recsys/`, and neither RECSYS_HOME nor
RECSYS_DATABASE_URL is set, so each notebook must find the demo the way the CLI
does (the nearest `.recsys` at or above its folder). The temporary project sits
beside a link to `../shared`, as the real one does, so the optional gtzan-mini
sections run when that data is present.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tmp/project/.recsys (the small demo) and tmp/project/notebooks; tmp/shared -> shared."""
    from etl.demo import load_demo
    from recommender.storage.engine import make_engine

    project = tmp_path_factory.mktemp("layout") / "project"
    home = project / ".recsys"
    (project / "notebooks").mkdir(parents=True)
    engine = make_engine(f"sqlite:///{home / 'recsys.db'}")
    load_demo(engine, home, users=60, tracks=80, seed=1, clip_seconds=3.0)
    engine.dispose()
    if SHARED_DATA.is_dir():
        (project.parent / "shared").symlink_to(SHARED_DATA.parent, target_is_directory=True)
    return project


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"01_data_overview.ipynb", "03_recommendation.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(path: Path):
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code), (
        f"{path.name} is committed with outputs; clear them before committing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(
    path: Path, demo_project: Path, monkeypatch: pytest.MonkeyPatch
):
    import nbclient  # the `notebooks` extra, installed by `make install`: missing is a failure
    import nbformat

    monkeypatch.delenv("RECSYS_HOME", raising=False)
    monkeypatch.delenv("RECSYS_DATABASE_URL", raising=False)
    # notebooks skip their optional real-data sections and train small models
    monkeypatch.setenv("RECSYS_NOTEBOOK_CI", "1")
    db = demo_project / ".recsys" / "recsys.db"
    before = sorted(p.name for p in (demo_project / "notebooks").iterdir())

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(demo_project / "notebooks")}},  # the kernel's cwd
    )
    client.execute()  # raises CellExecutionError, with the failing cell's traceback, on any error
    outputs = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1, f"{path.name} drew no plot"
    stdout = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    if (SHARED_DATA / "gtzan-mini").is_dir():  # found through ../../shared, as in the real layout
        assert "absent, section skipped" not in stdout
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "TqdmWarning" not in stderr, stderr  # "IProgress not found": ipywidgets missing
    # it read the project's database and left nothing beside itself
    assert sorted(p.name for p in (demo_project / "notebooks").iterdir()) == before
    assert db.is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_never_create_an_empty_database(path: Path):
    """Opened in the wrong folder, a notebook must stop and say where it looked (the error of
    Settings.existing_engine, tested in test_services_settings), not read a new empty database."""
    import nbformat

    code = "\n".join(
        c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
    )
    assert "Settings.load()" in code and ".existing_engine()" in code
    assert "make_engine(" not in code and ".engine(" not in code
