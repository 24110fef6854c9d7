"""`recsys serve`: the HTTP service (FastAPI on uvicorn) over the current bundle."""

from __future__ import annotations

from typing import Literal

import typer

from recommender.cli.state import state
from recommender.server.run import LOG_LEVELS

LogLevel = Literal[LOG_LEVELS]
LEVEL_LIST = ", ".join(LOG_LEVELS)


def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", metavar="HOST", help="Address to bind (loopback by default)."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, metavar="PORT", help="TCP port."),
    workers: int = typer.Option(
        1, "--workers", min=1, metavar="N", help="Processes; they share the memory-mapped model."
    ),
    poll: float = typer.Option(
        2.0,
        "--poll",
        metavar="SECONDS",
        help="Seconds between checks for a new bundle and for other workers' listens.",
    ),
    log_level: LogLevel = typer.Option(
        "info", "--log-level", metavar="LEVEL", help=f"One of: {LEVEL_LIST}."
    ),
) -> None:
    """Serve recommendations over HTTP (OpenAPI docs at /docs). Writes need RECSYS_API_KEY.

    Example: RECSYS_API_KEY=secret recsys serve --port 8000 --workers 2
    """
    from recommender.server.run import serve as run

    run(
        state.settings,
        host=host,
        port=port,
        workers=workers,
        poll_seconds=poll,
        log_level=log_level,
    )
