"""Where bundles live: RECSYS_HOME/models/<kind>/<version>/, and which one is `current`.

`kind` is "recommender" (what `recsys recommend` serves) or "tagger" (what `recsys tag`
uses). A new bundle is written completely (core.bundle), then the one-line `current`
pointer is replaced atomically, so a reader sees the old model or the new one.
"""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path
from typing import Any

from recommender.core.bundle import bundle_error, read_bundle
from recommender.core.component import Component
from recommender.errors import ModelBundleError

RECOMMENDER = "recommender"
TAGGER = "tagger"
CURRENT = "current"
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
    """Write `component` as bundle `version` of `kind` (not yet current)."""
    return component.save(kind_dir(models_dir, kind) / version, manifest=manifest)


def publish(models_dir: Path, kind: str, version: str) -> None:
    """Point `kind`'s `current` at `version` (atomic replace of a one-line file)."""
    pointer = kind_dir(models_dir, kind) / CURRENT
    tmp = pointer.with_name(f".{CURRENT}.{os.getpid()}.tmp")
    tmp.write_text(version + "\n")
    os.replace(tmp, pointer)


def current_path(models_dir: Path, kind: str) -> Path:
    """The bundle `kind`'s `current` pointer names; missing pieces are ModelBundleErrors, and
    so is a pointer that is not one version name (binary, huge, a path, a FIFO or device)."""
    folder = kind_dir(models_dir, kind)
    pointer = folder / CURRENT
    try:
        mode = os.stat(pointer).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise _bad_pointer(pointer, kind, f"cannot be read ({exc.strerror})") from None
    if mode is None:
        raise ModelBundleError(f"no trained {kind} in {folder}; {_FIX[kind]}")
    if not stat.S_ISREG(mode):  # checked before opening: a FIFO would block the open
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
    path = folder / version
    if not path.is_dir():
        raise bundle_error(path, f"named by {pointer} is missing")
    return path


def _bad_pointer(pointer: Path, kind: str, problem: str) -> ModelBundleError:
    return ModelBundleError(f"model bundle pointer {pointer} {problem}; {_FIX[kind]}")


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
