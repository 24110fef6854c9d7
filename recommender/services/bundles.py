"""Where bundles live: RECSYS_HOME/models/<kind>/<version>/, and which one is `current`.

`kind` is "recommender" (what `recsys recommend` serves) or "tagger" (what `recsys tag`
uses). A new bundle is written completely (core.bundle), then the one-line `current`
pointer is replaced atomically, so a reader sees the old model or the new one.

`recsys train` publishes a tagger and a recommender together: the recommender's manifest
names the tagger version it was trained with, and the recommender `current` flip is the
one commit point. The current tagger is the newer of the tagger pointer and the tagger the
current recommender names, so a run killed before that flip publishes neither, and one
killed just after it already publishes both. `tidy` clears what killed runs left
(temp folders, unpublished bundles, their predicted_tags) and applies the retention
setting RECSYS_KEEP_MODELS (default 3: bundles kept per kind, newest first; the current
ones are always kept). A training run's `lease` protects its versions meanwhile.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recommender.core.bundle import (
    MANIFEST,
    bundle_error,
    read_bundle,
    remove_stale_temps,
    temp_name,
)
from recommender.core.component import Component
from recommender.core.process import pid_alive
from recommender.errors import InputError, ModelBundleError, writing

RECOMMENDER = "recommender"
TAGGER = "tagger"
CURRENT = "current"
KEEP_VARIABLE = "RECSYS_KEEP_MODELS"
DEFAULT_KEEP = 3
_LEASE = "lease"
MAX_POINTER_BYTES = 256  # a version name and a newline; anything longer is not ours
_VERSION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # what new_version / tagger versions are
_FIX = {RECOMMENDER: "run `recsys train`", TAGGER: "run `recsys train tagger` (or `recsys train`)"}


def kind_dir(models_dir: Path, kind: str) -> Path:
    return Path(models_dir) / kind


def new_version(fingerprint: str) -> str:
    """Sortable and unique enough: UTC time to the millisecond plus the data fingerprint."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z"
    return f"{stamp}-{fingerprint[:8]}"


def write_version(
    models_dir: Path, kind: str, version: str, component: Component, manifest: dict[str, Any]
) -> Path:
    """Write `component` as bundle `version` of `kind` (not yet current); a full disk is
    one line naming the models folder (the temp folder is already removed)."""
    with writing(f"the model to {kind_dir(models_dir, kind)}"):
        return component.save(kind_dir(models_dir, kind) / version, manifest=manifest)


def publish(models_dir: Path, kind: str, version: str) -> None:
    """Point `kind`'s `current` at `version` (atomic replace of a one-line file)."""
    pointer = kind_dir(models_dir, kind) / CURRENT
    tmp = pointer.with_name(temp_name(CURRENT))
    with writing(f"the model to {pointer.parent}"):
        tmp.write_text(version + "\n")
    os.replace(tmp, pointer)


def has_current(models_dir: Path, kind: str) -> bool:
    """Whether a bundle of `kind` was ever published (its `current` pointer exists; for the
    tagger, also one named by the current recommender)."""
    if (kind_dir(models_dir, kind) / CURRENT).is_file():
        return True
    return kind == TAGGER and recommender_tagger(models_dir) is not None


def current_path(models_dir: Path, kind: str) -> Path:
    """The bundle `kind`'s `current` pointer names (for the tagger: or the newer tagger
    the current recommender was trained with); missing pieces are ModelBundleErrors, and
    so is a pointer that is not one version name (binary, huge, a path, a FIFO or device)."""
    folder = kind_dir(models_dir, kind)
    pointer = folder / CURRENT
    version = _read_pointer(pointer, kind)
    if kind == TAGGER:
        version = max(filter(None, (version, recommender_tagger(models_dir))), default=None)
    if version is None:
        raise ModelBundleError(f"no trained {kind} in {folder}; {_FIX[kind]}")
    path = folder / version
    if not path.is_dir():
        raise bundle_error(path, f"named by {pointer} is missing")
    return path


def _bad_pointer(pointer: Path, kind: str, problem: str) -> ModelBundleError:
    return ModelBundleError(f"model bundle pointer {pointer} {problem}; {_FIX[kind]}")


def _read_pointer(pointer: Path, kind: str) -> str | None:
    """The version a `current` pointer names (None: no pointer); stat before open, since a
    FIFO would block the open, and a bounded read of what must be one ASCII version name."""
    try:
        mode = os.stat(pointer).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _bad_pointer(pointer, kind, f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise _bad_pointer(pointer, kind, "is not a plain file")
    try:
        with open(pointer, "rb") as handle:
            raw = handle.read(MAX_POINTER_BYTES + 1)
    except OSError as exc:
        raise _bad_pointer(pointer, kind, f"cannot be read ({exc.strerror})") from None
    try:
        version = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        version = None
    if len(raw) > MAX_POINTER_BYTES or version is None or not _VERSION.fullmatch(version):
        raise _bad_pointer(pointer, kind, "does not hold a version name")
    return version


def current_recommender(models_dir: Path, *, mmap: bool = True):
    """The HybridRecommender `recsys recommend` serves."""
    return read_recommender(current_path(models_dir, RECOMMENDER), mmap=mmap)


def current_tagger(models_dir: Path, *, mmap: bool = True):
    """The tagger `recsys tag` uses (a TaggerPipeline or a CNNTagger)."""
    return read_tagger(current_path(models_dir, TAGGER), mmap=mmap)


def read_recommender(path: Path, *, mmap: bool = True):
    """The HybridRecommender in bundle `path`, verified (arrays memory-mapped by default)."""
    from recommender.hybrid.recommender import HybridRecommender

    return read_bundle(path, expect=HybridRecommender, mmap=mmap)


def read_tagger(path: Path, *, mmap: bool = True):
    """The tagger in bundle `path`, verified: a TaggerPipeline (song-vector taggers) or a
    CNNTagger; both answer predict_file, tags, thresholds and model_version."""
    from recommender.core.bundle import bundle_error
    from recommender.tagging.cnn.model import CNNTagger
    from recommender.tagging.pipeline import TaggerPipeline

    tagger = read_bundle(path, mmap=mmap)
    if not isinstance(tagger, TaggerPipeline | CNNTagger):
        raise bundle_error(path, f"holds a {tagger.name!r} model, not a tagger")
    return tagger


def recommender_tagger(models_dir: Path) -> str | None:
    """The tagger version the current recommender was trained with (None: none, or no
    readable current recommender; reading that bundle reports its own problems)."""
    pointer = kind_dir(models_dir, RECOMMENDER) / CURRENT
    try:
        version = pointer.read_text().strip()
        manifest = json.loads((pointer.parent / version / MANIFEST).read_text())
        tagger = manifest.get("tagger") or {}
        named = tagger.get("model_version") if isinstance(tagger, dict) else None
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(named, str) or "/" in named or named.startswith("."):
        return None
    return named


class Lease:
    """The versions a live training run is creating, in `models/.lease.tmp-<pid>`: `tidy`
    in another process leaves them (and their predicted_tags) alone until it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def claim(self, version: str) -> None:
        """Record `version` before its rows or bundle are written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as handle:
            handle.write(version + "\n")


_leases: dict[Path, int] = {}  # nested leases of one process (train -> train tagger) share a file


@contextmanager
def lease(models_dir: Path) -> Iterator[Lease]:
    """This process's lease on `models_dir`, removed when the outermost one ends."""
    path = Path(models_dir) / temp_name(_LEASE)
    _leases[path] = _leases.get(path, 0) + 1
    try:
        yield Lease(path)
    finally:
        _leases[path] -= 1
        if not _leases[path]:
            del _leases[path]
            path.unlink(missing_ok=True)


def leased_versions(models_dir: Path) -> set[str]:
    """Versions claimed by live training runs (this one included)."""
    out: set[str] = set()
    for path in Path(models_dir).glob(f".{_LEASE}.tmp-*"):
        if pid_alive(int(path.name.rsplit("-", 1)[1])):
            try:
                out.update(line.strip() for line in path.read_text().splitlines() if line.strip())
            except OSError:
                continue
    return out


def keep_setting() -> int:
    """RECSYS_KEEP_MODELS: how many bundles of each kind to keep (>= 1, default 3)."""
    raw = os.environ.get(KEEP_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_KEEP
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(
            f"{KEEP_VARIABLE}={raw[:40]!r} is not a whole number >= 1; set it to how many"
            " model bundles of each kind to keep (default 3)"
        )
    return int(raw)


def tidy(models_dir: Path, *, keep: int | None = None) -> set[str]:
    """Clear what killed runs left and apply retention; returns the tagger versions whose
    bundles remain (or are leased), whose predicted_tags are the ones to keep.

    Removed: dead processes' temp folders, pointer temps and leases; bundles newer than
    `current` that no live run leases (written by a run killed before it published);
    beyond the `keep` newest, every bundle that is neither current nor leased.
    """
    models_dir = Path(models_dir)
    keep = keep_setting() if keep is None else keep
    remove_stale_temps(models_dir)
    leased = leased_versions(models_dir)
    for kind in (RECOMMENDER, TAGGER):
        folder = kind_dir(models_dir, kind)
        remove_stale_temps(folder)
        if not folder.is_dir():
            continue
        try:
            current = current_path(models_dir, kind).name
        except ModelBundleError:
            current = None
        protected = leased | {current}
        if kind == TAGGER:
            protected.add(recommender_tagger(models_dir))
        versions = sorted(
            (p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
            reverse=True,
        )
        unpublished = {v for v in versions if current is None or v > current}
        kept = [v for v in versions if v not in unpublished][:keep]
        for version in versions:
            if version not in protected and (version in unpublished or version not in kept):
                shutil.rmtree(folder / version, ignore_errors=True)
    tagger_dir = kind_dir(models_dir, TAGGER)
    remaining = (
        {p.name for p in tagger_dir.iterdir() if p.is_dir() and not p.name.startswith(".")}
        if tagger_dir.is_dir()
        else set()
    )
    return remaining | leased
