"""Every notebook runs top to bottom on a small demo database, so none of them can rot.

The demo is generated once per session into a temporary RECSYS_HOME; each
notebook runs in a real Jupyter kernel (nbclient) that inherits RECSYS_HOME and
RECSYS_DATABASE_URL, exactly as a user's would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from etl.demo import load_demo
    from recommender.storage.engine import make_engine

    home = tmp_path_factory.mktemp("notebook-home")
    engine = make_engine(f"sqlite:///{home / 'recsys.db'}")
    load_demo(engine, home, users=60, tracks=80, seed=1, clip_seconds=3.0)
    engine.dispose()
    return home


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"01_data_overview.ipynb", "03_recommendation.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, demo_home: Path, monkeypatch: pytest.MonkeyPatch):
    import nbclient  # the `notebooks` extra, installed by `make install`: missing is a failure
    import nbformat

    monkeypatch.setenv("RECSYS_HOME", str(demo_home))
    monkeypatch.setenv("RECSYS_DATABASE_URL", f"sqlite:///{demo_home / 'recsys.db'}")
    monkeypatch.setenv(
        "RECSYS_NOTEBOOK_CI", "1"
    )  # notebooks skip their optional real-data sections
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        f"{path.name} is committed with outputs; clear them before committing"
    )
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the failing cell's traceback, on any error
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    images = sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert images >= 1, f"{path.name} drew no plot"
