"""What a person sees in an 80-column terminal (a pseudo-terminal, through pexpect).

`make demo` on a small demo home: every line of every step fits in 80 columns, and the
last step (`recsys recommend --user user-0001 --explain`) gives each item about three
lines. Progress bars are drawn on a terminal and never written into a pipe.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import pytest
from rich.cells import cell_len

from tests.conftest import run_cli

COLUMNS = 80
# CSI sequences (colours, cursor moves, erase line), OSC sequences, and lone escapes
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-B]|\x1b[=>]")
DEMO = ["etl", "demo", "--users", "20", "--tracks", "30", "--clip-seconds", "1", "--workers", "1"]


def terminal_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "RECSYS_DEBUG")}
    env.update(
        RECSYS_HOME=str(home),
        RECSYS_DATABASE_URL=f"sqlite:///{home / 'recsys.db'}",
        TERM="xterm-256color",
    )
    env.pop("NO_COLOR", None)
    return env


def in_terminal(args: list[str], env: dict[str, str], *, cwd: Path | None = None) -> str:
    """Run `recsys ARGS` on an 80-column pseudo-terminal; everything it wrote, as written."""
    child = pexpect.spawn(
        sys.executable,
        ["-m", "recommender.cli.app", *args],
        env=env,
        cwd=str(cwd) if cwd else None,
        dimensions=(40, COLUMNS),
        encoding="utf-8",
        timeout=600,
    )
    written = child.read()
    child.close()
    assert child.exitstatus == 0, written
    return written


def screen_lines(written: str) -> list[str]:
    """The lines a terminal shows: escape sequences removed, each line as left after any
    carriage returns (what a progress bar redraws in place)."""
    text = ANSI.sub("", written).replace("\r\n", "\n")
    return [line.split("\r")[-1] for line in text.split("\n")]


def too_wide(written: str) -> list[str]:
    return [line for line in screen_lines(written) if cell_len(line) > COLUMNS]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`make demo` step by step on a pseudo-terminal, on a demo small enough to be quick."""
    home = tmp_path_factory.mktemp("terminal") / "home"
    env = terminal_env(home)
    steps = {
        "etl demo": in_terminal(DEMO, env),
        "db stats": in_terminal(["db", "stats"], env),
        "train": in_terminal(["train"], env),
        "recommend": in_terminal(["recommend", "--user", "user-0001", "--explain"], env),
    }
    return {"env": env, "home": home, "steps": steps}


@pytest.mark.slow
def test_every_step_of_make_demo_fits_in_80_columns(demo_home):
    for step, written in demo_home["steps"].items():
        assert too_wide(written) == [], f"`recsys {step}` is wider than {COLUMNS} columns"
        assert "…" not in written, f"`recsys {step}` cut a value short"


@pytest.mark.slow
def test_the_demo_summary_is_titled_for_the_demo(demo_home):
    lines = [line.strip() for line in screen_lines(demo_home["steps"]["etl demo"])]
    assert "etl demo" in lines and "etl csv" not in lines
    assert re.search(r"source\s+demo", "\n".join(lines))


@pytest.mark.slow
def test_explained_recommendations_take_about_three_lines_per_item(demo_home):
    lines = [line for line in screen_lines(demo_home["steps"]["recommend"]) if line.strip()]
    assert lines[0].strip() == "recommendations for user-0001"
    header, rule, *rows = lines[1:]
    assert header.split() == ["#", "id", "name", "/", "why", "score", "source"]
    assert set(rule.strip()) == {"─"}
    starts = [i for i, line in enumerate(rows) if re.match(r"^\s*\d+\s+track-\d{4}\s", line)]
    ranks = [int(rows[i].split()[0]) for i in starts]
    assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) >= 5, rows
    per_item = [b - a for a, b in zip(starts, [*starts[1:], len(rows)], strict=True)]
    assert max(per_item) <= 3, rows
    # the gist of why sits under each name: its tags or "like" a played track
    for a, b in zip(starts, [*starts[1:], len(rows)], strict=True):
        why = " ".join(line.strip() for line in rows[a + 1 : b])
        assert why and ("like " in why or "popular with listeners like you" in why), rows[a:b]


@pytest.mark.slow
def test_the_bundle_path_is_whole_not_cut(demo_home):
    """A path the user may copy is folded over lines, never shortened with '…'."""
    lines = screen_lines(demo_home["steps"]["train"])
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("bundle"))
    column = lines[start].index("/")
    path = ""
    for line in lines[start:]:
        if path and line[:column].strip():  # the next row of the table
            break
        path += line[column:].strip()
    bundles = list((demo_home["home"] / "models" / "recommender").iterdir())
    assert path in {str(p) for p in bundles}


@pytest.mark.slow
def test_progress_bars_show_on_a_terminal_and_not_in_a_pipe(demo_home, tmp_path):
    drawn = demo_home["steps"]["etl demo"]
    assert "audio features" in drawn and "━" in drawn  # the scan's bar, on the terminal
    plays = tmp_path / "plays.csv"
    plays.write_text("user,track,count\n" + "".join(f"u{i},t{i % 7},{i + 1}\n" for i in range(50)))
    env = demo_home["env"]
    on_terminal = in_terminal(["etl", "csv", "--listens", str(plays)], env)
    assert "reading plays.csv" in on_terminal and "━" in on_terminal
    piped = run_cli(["etl", "csv", "--listens", str(plays)], env)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == "" and "reading plays.csv" not in piped.stdout
    assert "━" not in piped.stdout and "\x1b[" not in piped.stdout
    assert "etl csv" in piped.stdout  # the summary table itself still comes through
