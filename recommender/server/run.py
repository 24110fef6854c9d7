"""Start uvicorn on `recsys serve`'s options, after the checks that keep it safe.

Workers are separate processes that each import `create_app` and memory-map the same
bundle files, so N workers share one copy of the model's arrays in the page cache.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile

from recommender.errors import InputError, SchemaVersionError, shown
from recommender.services.settings import Settings

LOG_LEVELS = ("debug", "info", "warning", "error")


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) resolves to loopback addresses only."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise InputError(f"--host {shown(host)} does not resolve ({exc.strerror})") from None
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    poll_seconds: float = 2.0,
    log_level: str = "info",
) -> None:
    """Run the server until interrupted. Writes (`POST /listens`, `POST /tag`) need
    RECSYS_API_KEY; a server reachable from other hosts must not run without it."""
    api_key = os.environ.get("RECSYS_API_KEY")
    if not is_loopback(host) and not api_key:
        raise InputError(
            f"--host {host} is reachable from other machines and RECSYS_API_KEY is not set;"
            " set RECSYS_API_KEY (writes then need it) or bind --host 127.0.0.1"
        )
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if log_level not in LOG_LEVELS:
        raise InputError(
            f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {shown(log_level)}"
        )
    if poll_seconds <= 0:
        raise InputError(f"--poll must be positive, got {poll_seconds}")
    # Workers are new processes: they read their configuration from the environment.
    os.environ["RECSYS_HOME"] = str(settings.home)
    os.environ["RECSYS_DATABASE_URL"] = settings.database_url
    os.environ["RECSYS_SERVE_POLL_SECONDS"] = str(poll_seconds)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="recsys-metrics-")
    _check_schema(settings)
    import uvicorn

    uvicorn.run(
        "recommender.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        server_header=False,
    )


def _check_schema(settings: Settings) -> None:
    """Refuse to start on a database at another schema revision (exit 2, with the fix); an
    unreachable database is no reason not to start (/ready says so until it answers)."""
    try:
        settings.engine().dispose()
    except SchemaVersionError:
        raise
    except Exception:
        pass
