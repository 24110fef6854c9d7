"""What one server worker holds: its configuration, the live bundles and the database.

Configuration comes from the environment, because uvicorn starts each worker by
importing `recommender.server.app:create_app` in a fresh process; `recsys serve` sets
the variables before it starts them.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from recommender.services.bundles import RECOMMENDER, TAGGER, read_recommender, read_tagger
from recommender.services.live import ChangedUsers, LiveBundle, Poller, Served
from recommender.services.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

MiB = 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    settings: Settings
    api_key: str | None = None  # RECSYS_API_KEY: required by every write endpoint
    poll_seconds: float = 2.0  # how often a worker looks for a new bundle and new listens
    max_read_bytes: int = 64 * 1024  # every other request
    max_json_bytes: int = 2 * MiB  # POST /listens
    max_upload_bytes: int = 25 * MiB  # POST /tag
    max_audio_seconds: float = 900.0
    bench_endpoint: bool = False  # GET /_bench/constant, the serving benchmark's reference

    @classmethod
    def from_env(cls) -> ServerConfig:
        env = os.environ
        return cls(
            settings=Settings.load(),
            api_key=env.get("RECSYS_API_KEY") or None,
            poll_seconds=float(env.get("RECSYS_SERVE_POLL_SECONDS", "2")),
            bench_endpoint=env.get("RECSYS_SERVE_BENCH") == "1",
        )


class ServerState:
    """The recommender (loaded at start), the tagger (loaded on first use), the users with
    live listens, and a poller that swaps bundles and reads other workers' listens."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        models = config.settings.models_dir
        self.recommender = LiveBundle(models, RECOMMENDER, read_recommender)
        self.tagger = LiveBundle(models, TAGGER, read_tagger)
        self.changed = ChangedUsers()
        self.poller = Poller(self.refresh, config.poll_seconds)
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()

    def engine(self) -> Engine:
        with self._engine_lock:
            if self._engine is None:
                self._engine = self.config.settings.engine()
            return self._engine

    def start(self) -> None:
        from recommender.core.blas import serving_blas

        serving_blas()
        self.recommender.refresh()
        try:
            self.changed.poll(self.engine())
        except Exception:  # the database may come up later; /ready says so meanwhile
            pass
        self.poller.start()

    def stop(self) -> None:
        self.poller.stop()
        if self._engine is not None:
            self._engine.dispose()

    def refresh(self) -> None:
        self.recommender.refresh()
        if self.tagger.loaded:
            self.tagger.refresh()
        self.changed.poll(self.engine())

    def tagger_served(self) -> Served:
        if not self.tagger.loaded:
            self.tagger.refresh()
        return self.tagger.served

    def changed_since(self, user: str, served: Served) -> bool:
        return self.changed.changed(user, served.watermark)
