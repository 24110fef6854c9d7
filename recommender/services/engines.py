"""Where work runs: "local" (this process, implicit) or "spark" (a Spark session).

One check for every command with an `--engine`: the interfaces pass the user's
strings, and get back a session (or None) or a one-line InputError.
"""

from __future__ import annotations

from typing import Any

from recommender.errors import InputError, shown

ENGINES = ("local", "spark")


def spark_for(engine: str, master: str | None) -> Any | None:
    """The Spark session `engine` asks for (None for local); bad combinations are usage errors."""
    if engine not in ENGINES:
        raise InputError(f"--engine: unknown engine {shown(engine)}; choose {' or '.join(ENGINES)}")
    if engine == "local":
        if master:
            raise InputError("--spark-master applies to --engine spark")
        return None
    from recommender.spark.session import spark_session

    return spark_session(master=master)
