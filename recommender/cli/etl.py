"""`recsys etl ...`: load a source into the database (the pipelines live in the `etl` package)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Load listening logs, tags and audio into the database.", no_args_is_help=True)
