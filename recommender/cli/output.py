"""Console output: rich tables for people, JSON for scripts, progress only on a terminal.

Numbers shown to people get thousands separators here, in one place (`number`, and
`print_table` for int and float cells), so no table shows "1,538" beside "1538".
Table cells fold instead of ending in "…": a path or an id must stay whole to be copied.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

console = Console()
err_console = Console(stderr=True)


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")


def number(value: int | float, digits: int | None = None) -> str:
    """A count or measure for people: 1,538; floats with `digits` decimals if given."""
    if isinstance(value, bool):
        return str(value)
    if digits is not None:
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def cell(value: Any) -> Text:
    """What a table shows for one value: numbers via `number`, None as blank, text as it is
    (never read as rich markup: a tag "[live]" stays visible)."""
    if isinstance(value, Text):
        return value
    if value is None:
        return Text("")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Text(number(value))
    return Text(str(value))


def say(message: str, *, stderr: bool = False) -> None:
    """A plain message for people (no rich markup or highlighting): wrapped at spaces on a
    terminal, one line in a pipe (where a script may read it)."""
    out = err_console if stderr else console
    out.print(message, markup=False, highlight=False, soft_wrap=not out.is_terminal)


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str | None = None,
) -> None:
    """A table, or with no rows and `empty` given, the line `empty` saying why there is none."""
    table = Table(
        title=None if title is None else Text(title),  # a file name "[live].wav" stays whole
        box=box.SIMPLE_HEAD,
        title_justify="left",
        collapse_padding=True,
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    if not table.rows and empty is not None:
        say(f"{title}: {empty}" if title else empty)
        return
    console.print(table)


def make_progress(*, quiet: bool = False) -> Progress:
    """A progress bar on stderr that stays silent when stderr is not a terminal or with --quiet."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet or not err_console.is_terminal,
        transient=True,
    )
