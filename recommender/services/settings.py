"""Where recsys keeps its state: `RECSYS_HOME` and `RECSYS_DATABASE_URL`.

CLI flags override the environment; the environment overrides the defaults
(`./.recsys/` and a SQLite file inside it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from sqlalchemy import Engine

DEFAULT_HOME = Path(".recsys")
SQLITE_FILENAME = "recsys.db"


def sqlite_url(path: Path) -> str:
    """The SQLite URL of file `path`, percent-escaped: a folder named `a?b`, `a#b` or `a%b`
    is a folder, not URL parameters. SQLAlchemy (>= 2.0) decodes the database part, so this
    is what `URL.create("sqlite", database=...)` renders, without importing sqlalchemy
    (0.2-0.5 s) in commands that never open the database."""
    return "sqlite:///" + quote(str(path), safe="/")


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str

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
            url = sqlite_url(resolved_home / SQLITE_FILENAME)
        return cls(home=resolved_home, database_url=url)
