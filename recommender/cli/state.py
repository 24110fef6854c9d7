"""Global options (`--home`, `--database-url`, `--quiet`) shared by every command."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from recommender.services.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass
class CliState:
    home: str | None = None
    database_url: str | None = None
    quiet: bool = False
    _engine: Engine | None = field(default=None, repr=False)

    def update(self, **options: str | bool | None) -> None:
        """Set global options (by parameter name); the engine follows the new settings."""
        for name, value in options.items():
            if name not in ("home", "database_url", "quiet"):
                raise AttributeError(f"no global option {name!r}")
            setattr(self, name, value)
        self._engine = None

    @property
    def settings(self) -> Settings:
        return Settings.load(home=self.home, database_url=self.database_url)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self.settings.engine()
        return self._engine


state = CliState()
