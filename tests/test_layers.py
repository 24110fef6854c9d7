"""The layers of DESIGN.md, checked by import-linter's contracts (pyproject.toml): imports
point down (interfaces -> application -> core), the core is pure, etl is never imported
by the recommender, HTTP stays in recommender.server, and no package or module takes
part in an import cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_import_contract_is_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is part of the dev extra: pip install -e '.[dev]'"
    result = subprocess.run(
        [lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-3000:]
    assert "Contracts: 6 kept, 0 broken." in report, report[-1000:]


def test_a_broken_contract_is_caught(tmp_path: Path) -> None:
    """The check can fail: a core module importing the database breaks it."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        "[tool.importlinter]\nroot_packages = ['recommender']\n"
        "include_external_packages = true\n"
        "[[tool.importlinter.contracts]]\nname = 'services stay out of the data layer'\n"
        "type = 'forbidden'\nsource_modules = ['recommender.services']\n"
        "forbidden_modules = ['sqlalchemy']\n"
    )
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    result = subprocess.run(
        [lint, "--no-cache", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1 and "BROKEN" in result.stdout
