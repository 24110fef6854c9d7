"""requirements.lock: in step with pyproject.toml, hashed, the CPU torch; stale locks refused."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

from tests.conftest import REPO_ROOT

EXTRAS = "postgres,notebooks,dev,spark,cnn"


def _make_variable(name: str) -> str:
    match = re.search(rf"^{name} := (.+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert match, name
    return match.group(1).strip()


def _check(root, extras: str = EXTRAS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "tools" / "deps_lock.py"), "check", "requirements.lock"]
        + ["--extras", extras],
        cwd=root,
        capture_output=True,
        text=True,
    )


def test_the_lock_matches_pyproject_and_covers_what_make_install_installs():
    assert _make_variable("EXTRAS") == EXTRAS
    result = _check(REPO_ROOT)
    assert result.returncode == 0, result.stderr


def test_every_pin_is_exact_and_hashed_and_torch_is_the_cpu_build():
    text = (REPO_ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[a-z0-9])", text.split("\n", 3)[3].strip(), flags=re.I)
    pins = [e for e in entries if not e.startswith("#")]
    assert len(pins) > 100
    for entry in pins:
        assert re.match(r"^[A-Za-z0-9_.\-]+(\[[^\]]+\])?==\S+ \\", entry), entry
        assert "--hash=sha256:" in entry, entry
    assert re.search(r"^torch==2\.13\.0\+cpu \\$", text, re.M)
    assert not re.search(r"^nvidia-", text, re.M)
    assert re.search(r"^alembic==", text, re.M)


def test_a_dependency_added_without_make_lock_is_refused(tmp_path):
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    (tmp_path / "tools").mkdir()
    shutil.copy(REPO_ROOT / "tools" / "deps_lock.py", tmp_path / "tools" / "deps_lock.py")
    pyproject = tmp_path / "pyproject.toml"
    added = pyproject.read_text().replace('"rich>=13",', '"rich>=13", "pexpect>=4.9",')
    pyproject.write_text(added)

    result = _check(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: requirements.lock is older than pyproject.toml's dependencies (or made for"
        f" other extras than {EXTRAS}): run 'make lock' and commit requirements.lock"
    ]
    assert _check(tmp_path, "postgres").returncode == 2  # another set of extras: also stale
