"""Keep requirements.lock in step with pyproject.toml's dependencies.

`make lock` resolves pyproject.toml's loose ranges into requirements.lock (exact versions with
hashes, by uv) and stamps it with a hash of the dependency table and the extras it covers;
`make install` refuses a lock whose stamp no longer matches, so a dependency added to
pyproject.toml without `make lock` fails at once instead of installing something untested.

    python3 tools/deps_lock.py stamp requirements.lock --extras postgres,dev
    python3 tools/deps_lock.py check requirements.lock --extras postgres,dev

Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tomllib
from pathlib import Path

HEADER = "# pyproject-dependencies-sha256: "
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def dependency_hash(pyproject: Path, extras: str) -> str:
    """sha256 of what the lock is resolved from: requires-python, the dependencies, every
    extra's list, and the extras installed. Comments and formatting do not count."""
    project = tomllib.loads(pyproject.read_text())["project"]
    table = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "extras": sorted(e.strip() for e in extras.split(",") if e.strip()),
    }
    return hashlib.sha256(json.dumps(table, sort_keys=True).encode()).hexdigest()


def stamp(lock: Path, extras: str) -> None:
    lines = [line for line in lock.read_text().splitlines() if not line.startswith(HEADER)]
    lock.write_text("\n".join([HEADER + dependency_hash(PYPROJECT, extras), *lines]) + "\n")


def check(lock: Path, extras: str) -> int:
    """0 when the lock matches pyproject.toml; else one line on stderr and 2."""
    if not lock.is_file():
        print(f"error: {lock} is missing: run 'make lock'", file=sys.stderr)
        return 2
    recorded = next(
        (
            line[len(HEADER) :].strip()
            for line in lock.read_text().splitlines()
            if line.startswith(HEADER)
        ),
        None,
    )
    if recorded != dependency_hash(PYPROJECT, extras):
        print(
            f"error: {lock} is older than pyproject.toml's dependencies (or made for other"
            f" extras than {extras}): run 'make lock' and commit {lock}",
            file=sys.stderr,
        )
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["stamp", "check"])
    parser.add_argument("lock", type=Path, metavar="FILE")
    parser.add_argument("--extras", required=True, metavar="EXTRAS")
    args = parser.parse_args(argv)
    if args.action == "stamp":
        stamp(args.lock, args.extras)
        return 0
    return check(args.lock, args.extras)


if __name__ == "__main__":
    sys.exit(main())
