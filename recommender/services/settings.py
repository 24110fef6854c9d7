"""Where recsys keeps its state: `RECSYS_HOME` and `RECSYS_DATABASE_URL`; where audio may
be read from: `RECSYS_AUDIO_ROOT`.

CLI flags override the environment; the environment overrides the defaults
(`./.recsys/` and a SQLite file inside it; no audio root: each catalogue's audio stays
inside the catalogue's own folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

DEFAULT_HOME = Path(".recsys")
SQLITE_FILENAME = "recsys.db"
AUDIO_ROOT_ENV = "RECSYS_AUDIO_ROOT"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    # Catalogue audio paths resolve against it and must stay inside it; the scan reads
    # nothing outside it. None: each catalogue's own folder (see etl.csv_source).
    audio_root: Path | None = None

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def audio_dir(self) -> Path:
        return self.home / "audio"

    def engine(self, *, create_schema: bool = True) -> Engine:
        """The database at `database_url` (schema created on first use, unless told not to:
        a read that tolerates missing tables need not pay for the check)."""
        from recommender.storage.engine import make_engine

        return make_engine(self.database_url, create_schema=create_schema)

    @classmethod
    def load(cls, *, home: str | Path | None = None, database_url: str | None = None) -> Settings:
        resolved_home = Path(home or os.environ.get("RECSYS_HOME") or DEFAULT_HOME).absolute()
        url = database_url or os.environ.get("RECSYS_DATABASE_URL")
        if not url:
            url = f"sqlite:///{resolved_home / SQLITE_FILENAME}"
        root = os.environ.get(AUDIO_ROOT_ENV)
        audio_root = Path(root).expanduser().absolute() if root else None
        return cls(home=resolved_home, database_url=url, audio_root=audio_root)
