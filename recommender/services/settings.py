"""Where recsys keeps its state: `RECSYS_HOME` and `RECSYS_DATABASE_URL`; where audio may
be read from: `RECSYS_AUDIO_ROOT`.

The home folder is found the way git finds `.git`, so the CLI, the server and a
notebook opened in `notebooks/` all reach the same database:
1. `--home DIR` (CLI flag) or `$RECSYS_HOME`, when given;
2. else the nearest existing `.recsys` folder in the current directory or one of
   its ancestors;
3. else `./.recsys` (created by the first command that writes).
The database is `--database-url`, else `$RECSYS_DATABASE_URL`, else the SQLite
file `recsys.db` in the home folder.
Audio is read only inside `$RECSYS_AUDIO_ROOT` when set, else inside each
catalogue's own folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from recommender.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

HOME_FOLDER = ".recsys"
DEFAULT_HOME = Path(HOME_FOLDER)
SQLITE_FILENAME = "recsys.db"
AUDIO_ROOT_ENV = "RECSYS_AUDIO_ROOT"
CONFIG_FILENAME = "config.json"  # model settings `recsys train` reads (services.config_file)


def resolve_home(home: str | Path | None = None, *, cwd: Path | None = None) -> tuple[Path, str]:
    """(home folder, how it was chosen): explicit `home`, `$RECSYS_HOME`, the nearest
    `.recsys` in `cwd` or above, else `cwd/.recsys`. One rule for every interface."""
    if home:
        return Path(home).absolute(), "--home"
    if env := os.environ.get("RECSYS_HOME"):
        return Path(env).absolute(), "$RECSYS_HOME"
    start = (cwd or Path.cwd()).absolute()
    for folder in (start, *start.parents):
        if (folder / HOME_FOLDER).is_dir():
            return folder / HOME_FOLDER, f"the nearest {HOME_FOLDER} at or above {start}"
    return start / HOME_FOLDER, f"no {HOME_FOLDER} in {start} or above it, so ./{HOME_FOLDER}"


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
    home_source: str = "given"  # how `home` was chosen: told when its database is missing
    # Catalogue audio paths resolve against it and must stay inside it; the scan reads
    # nothing outside it. None: each catalogue's own folder (see etl.csv_source).
    audio_root: Path | None = None

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def config_path(self) -> Path:
        """The model settings `recsys train` starts from (`services.config_file`)."""
        return self.home / CONFIG_FILENAME

    @property
    def audio_dir(self) -> Path:
        return self.home / "audio"

    def engine(self, *, create_schema: bool = True) -> Engine:
        """The database at `database_url` (schema created on first use, unless told not to:
        a read that tolerates missing tables need not pay for the check)."""
        from recommender.storage.engine import make_engine

        return make_engine(self.database_url, create_schema=create_schema)

    def existing_engine(self) -> Engine:
        """The database, which must exist already: for readers such as the notebooks, which
        would otherwise leave an empty database in a folder nobody meant."""
        from sqlalchemy.engine import make_url

        try:
            url = make_url(self.database_url)
        except Exception:
            return self.engine()  # make_engine turns a bad URL into its InputError
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            path = Path(url.database).absolute()
            if not path.is_file():
                raise InputError(
                    f"no recsys database at {path} (home {self.home}: {self.home_source});"
                    " run `recsys etl demo` in the project folder first, or set RECSYS_HOME"
                )
        return self.engine()

    @classmethod
    def load(
        cls,
        *,
        home: str | Path | None = None,
        database_url: str | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        resolved_home, source = resolve_home(home, cwd=cwd)
        url = database_url or os.environ.get("RECSYS_DATABASE_URL")
        if not url:
            url = sqlite_url(resolved_home / SQLITE_FILENAME)
        root = os.environ.get(AUDIO_ROOT_ENV)
        audio_root = Path(root).expanduser().absolute() if root else None
        return cls(
            home=resolved_home, database_url=url, audio_root=audio_root, home_source=source
        )
