"""A model that changes under a running server: the current bundle, swapped when `recsys
train` publishes a new one, and the users whose listens arrived after it was trained.

A request takes `LiveBundle.served` once and answers from that object only, so every
answer comes wholly from one bundle, whatever swap happens meanwhile. A bundle that
fails to load (damaged, incomplete, wrong kind) is refused and logged; the one being
served stays.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.core.bundle import bundle_error, read_manifest
from recommender.errors import ModelBundleError

log = logging.getLogger("recsys.live")

# The manifest entry (under "data") where training records the last user_updates.seq it saw.
WATERMARK = "user_updates_seq"


def watermark_of(bundle: Path) -> int:
    """The last user_updates.seq the bundle at `bundle` was trained on (0: none recorded);
    a manifest whose schema or watermark is not ours is the bundle error."""
    seq = read_manifest(Path(bundle), verify=False).get("data", {}).get(WATERMARK) or 0
    if type(seq) is not int or seq < 0:
        raise bundle_error(Path(bundle), f"records a {WATERMARK} that is not a count")
    return seq


@dataclass(frozen=True)
class Served:
    """One loaded bundle: what answers requests until the next swap."""

    version: str
    model: Any
    watermark: int  # users updated after this user_updates.seq are folded in from the database
    loaded_seconds: float


class LiveBundle:
    """The bundle `kind`'s `current` pointer names, reloaded when the pointer moves."""

    def __init__(self, models_dir: Path, kind: str, load: Callable[[Path], Any]) -> None:
        self.models_dir, self.kind, self._load = Path(models_dir), kind, load
        self._served: Served | None = None
        self._refused: dict[str, str] = {}  # version -> why it was refused
        self._problem = f"no {kind} loaded yet"
        self._lock = threading.Lock()
        self.on_swap: Callable[[Served], None] | None = None
        self.on_refuse: Callable[[str, str], None] | None = None  # (version, reason)

    @property
    def served(self) -> Served:
        """The bundle answering now (a ModelBundleError, with its fix, if there is none)."""
        served = self._served
        if served is None:
            raise ModelBundleError(self._problem)
        return served

    @property
    def loaded(self) -> bool:
        return self._served is not None

    def refresh(self) -> bool:
        """Load the bundle `current` names if it is new; True when it replaced the old one."""
        with self._lock:  # one loader at a time; readers never wait for it
            path = self._pointed()
            served = None if path is None else self._load_version(path)
        if served is None:
            return False
        if self.on_swap is not None:
            self.on_swap(served)
        return True

    def _pointed(self) -> Path | None:
        """The bundle `current` names, when it is neither the served one nor refused."""
        from recommender.services.bundles import current_path

        try:
            path = current_path(self.models_dir, self.kind)
        except ModelBundleError as exc:
            if self._served is None:
                self._problem = str(exc)
            return None
        served = self._served
        if (served and served.version == path.name) or path.name in self._refused:
            return None
        return path

    def _load_version(self, path: Path) -> Served | None:
        version, started = path.name, time.perf_counter()
        try:
            model = self._load(path)
            watermark = watermark_of(path)
        except Exception as exc:  # a damaged bundle must never take the server down
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._refused[version] = reason
            log.error("refused %s bundle %s: %s", self.kind, version, reason)
            if self._served is None:
                self._problem = f"the current {self.kind} bundle was refused: {reason}"
            if self.on_refuse is not None:
                self.on_refuse(version, reason)
            return None
        served = Served(version, model, watermark, time.perf_counter() - started)
        old, self._served = self._served, served
        log.info(
            "serving %s %s (was %s), loaded in %.2f s",
            self.kind,
            version,
            old.version if old else "none",
            served.loaded_seconds,
        )
        return served


# user_updates, read with plain SQL: the CLI asks on every `recommend --user`, and the ORM
# classes would add to its start-up. Values are always bound parameters.
_LAST_UPDATE = "SELECT MAX(seq) FROM user_updates"
_UPDATES_SINCE = (
    "SELECT u.external_id, x.seq FROM user_updates x JOIN users u ON u.id = x.user_id"
    " WHERE x.seq > :seq ORDER BY x.seq"
)
_UPDATED_SINCE = (
    "SELECT 1 FROM user_updates x JOIN users u ON u.id = x.user_id"
    " WHERE u.external_id = :user AND x.seq > :seq LIMIT 1"
)


def last_update(engine) -> int:
    """The latest user_updates.seq (0 when no listens arrived live): a bundle's watermark."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(conn.execute(text(_LAST_UPDATE)).scalar() or 0)


def updates_since(engine, seq: int) -> list[tuple[str, int]]:
    """(user id, seq) of every live listens update after `seq`, oldest first."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(text(_UPDATES_SINCE), {"seq": seq}).all()
    return [(str(user), int(s)) for user, s in rows]


def updated_since(engine, user_id: str, seq: int) -> bool:
    """Whether `user_id` has listens stored live after `seq`."""
    from sqlalchemy import text

    with engine.connect() as conn:
        found = conn.execute(text(_UPDATED_SINCE), {"user": user_id, "seq": seq}).first()
    return found is not None


class ChangedUsers:
    """Users with listens stored after some bundle was trained: latest user_updates.seq each."""

    def __init__(self) -> None:
        self._latest: dict[str, int] = {}
        self._seen = 0
        self._lock = threading.Lock()

    def changed(self, user_id: str, watermark: int) -> bool:
        """Whether `user_id` has listens newer than a bundle trained up to `watermark`."""
        return self._latest.get(user_id, 0) > watermark

    def mark(self, updates: Mapping[str, int]) -> None:
        """Record updates this process just wrote (read-your-writes without waiting to poll)."""
        with self._lock:
            for user, seq in updates.items():
                self._latest[user] = max(self._latest.get(user, 0), seq)

    def poll(self, engine) -> int:
        """Read updates other processes wrote since the last poll; returns how many."""
        rows = updates_since(engine, self._seen)
        with self._lock:
            for user, seq in rows:
                self._latest[user] = max(self._latest.get(user, 0), seq)
                self._seen = max(self._seen, seq)
        return len(rows)


class Poller:
    """A daemon thread running `step` every `interval` seconds until stopped."""

    def __init__(self, step: Callable[[], None], interval: float) -> None:
        self._step, self.interval = step, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recsys-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._step()
            except Exception:  # a poll that failed (database down) is retried next time
                log.exception("background refresh failed")
