"""The one bundle format: any component written to a directory atomically, read back verified.

A bundle is a directory:

    manifest.json        format, versions, what was trained on, sha256 of every file
    component.json       registry name, state layout (`Component.schema`), config, JSON-able state
    arrays/NAME.npy      numpy arrays (written and read with allow_pickle=False)
    texts/NAME           model text (e.g. LightGBM)
    blobs/NAME           opaque model bytes (e.g. an ONNX network), parsed by their runtime
    parts/NAME/...       nested components, each with its own component.json

Writers fill a hidden temp directory renamed into place only when complete, so a
reader sees the old bundle or the new one, never half of one. Temp names end in the
writer's PID (`.<name>.<random>.tmp-<pid>`), so `remove_stale_temps` can clear what a
killed writer left without touching a live one's. Readers check every
checksum before anything is parsed, and loading never executes code from the bundle
(no pickle). Arrays are plain .npy files so they can be memory-mapped read-only
(`mmap=True`): processes serving the same bundle then share one copy of its pages.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recommender.core.process import fault_point, pid_alive
from recommender.core.registry import component_class
from recommender.errors import InputError, ModelBundleError

if TYPE_CHECKING:
    from recommender.core.component import Component

FORMAT = "recsys-bundle"
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
COMPONENT = "component.json"
FIX = "run `recsys train` to build a new model bundle"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
VERSIONED_PACKAGES = ("recsys", "numpy", "scipy", "scikit-learn", "implicit", "lightgbm")
# a hidden name ending in its writer's PID: `.x.tmp-123` (temp dir or file), `.x.old-123`
_OWNED = re.compile(r"^\..*\.(?:tmp|old)-(\d+)$")
_STARTED = time.time()  # leftovers of the old naming are stale once older than this process


@dataclass
class State:
    """A fitted component as plain data: arrays (.npy, never pickled), JSON-able `meta`,
    `texts` (e.g. LightGBM model text), `blobs` (bytes only a runtime parses, e.g. ONNX,
    which holds no code) and nested components (`parts`)."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    parts: dict[str, Component] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)


def bundle_error(where: Path, problem: str) -> ModelBundleError:
    return ModelBundleError(f"model bundle {where} {problem}; {FIX}")


def write_bundle(
    target: Path, component: Component, *, manifest: dict[str, Any] | None = None
) -> Path:
    """Write `component` as bundle directory `target` (replacing one that exists), atomically.

    `manifest` adds top-level entries (training summary, metrics, version) to manifest.json.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=f".tmp-{os.getpid()}", dir=target.parent)
    )
    try:
        _write_tree(tmp, component)
        fault_point(f"bundle-write:{target.parent.name}")  # files written, manifest not yet
        files = {
            path.relative_to(tmp).as_posix(): _sha256(path)
            for path in sorted(tmp.rglob("*"))
            if path.is_file()
        }
        full = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "component": component.name,
            "versions": library_versions(VERSIONED_PACKAGES),
            **(manifest or {}),
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=True, default=str))
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def temp_name(name: str) -> str:
    """A hidden sibling name for `name` owned by this process (see `remove_stale_temps`)."""
    return f".{name}.tmp-{os.getpid()}"


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the hidden temp dirs and files in `folder` that a dead process left (a killed
    bundle write, pointer flip or lease); a live writer's are kept. Returns what went."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        if not entry.name.startswith("."):
            continue
        owned = _OWNED.match(entry.name)
        if owned:
            stale = not pid_alive(int(owned.group(1)))
        else:  # a temp dir from before PIDs were in the name, made before this process
            stale = entry.is_dir() and entry.stat().st_mtime < _STARTED
        if not stale:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def read_bundle(
    path: Path, *, expect: type[Component] | None = None, mmap: bool = False
) -> Component:
    """The component stored in bundle `path`, verified; `expect` is the class it must be."""
    path = Path(path)
    read_manifest(path)
    component = _read_tree(path, path, mmap=mmap)
    if expect is not None and not isinstance(component, expect):
        raise bundle_error(path, f"holds a {component.name!r} model, not a {expect.__name__}")
    return component


def read_manifest(path: Path) -> dict[str, Any]:
    """The validated manifest of bundle `path`: this format, every file intact."""
    path = Path(path)
    if not path.is_dir():
        raise bundle_error(path, "is missing")
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise bundle_error(path, f"has no {MANIFEST}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bundle_error(path, f"has an unreadable {MANIFEST} ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise bundle_error(path, f"has a {MANIFEST} that is not a recsys bundle manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise bundle_error(
            path, f"uses format {manifest.get('format_version')}, expected {FORMAT_VERSION}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or COMPONENT not in files:
        raise bundle_error(path, f"has a {MANIFEST} without its file list")
    for name, digest in files.items():
        file = path / name
        if ".." in Path(name).parts or not file.is_file():
            raise bundle_error(path, f"is incomplete ({name} is missing)")
        if _sha256(file) != digest:
            raise bundle_error(path, f"is corrupt ({name} does not match its checksum)")
    return manifest


def sparse_arrays(prefix: str, matrix: sp.spmatrix) -> dict[str, np.ndarray]:
    """A CSR matrix as plain arrays (prefix_data/indices/indptr/shape) for a bundle."""
    csr = sp.csr_matrix(matrix)
    return {
        f"{prefix}_data": csr.data,
        f"{prefix}_indices": csr.indices,
        f"{prefix}_indptr": csr.indptr,
        f"{prefix}_shape": np.asarray(csr.shape, dtype=np.int64),
    }


def sparse_from(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(v) for v in arrays[f"{prefix}_shape"])
    matrix = sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
        shape=shape,
    )
    matrix.has_sorted_indices = True  # written from a canonical CSR; skip scipy's re-check
    return matrix


def library_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Versions that produced a bundle, so a load on different software can be diagnosed."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in packages:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "unknown"
    return out


def _write_tree(directory: Path, component: Component) -> None:
    state = component._state()
    names = [*state.arrays, *state.texts, *state.parts, *state.blobs]
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise ValueError(f"{component.name}: bundle entry names must be plain file names: {bad}")
    directory.mkdir(parents=True, exist_ok=True)
    if state.arrays:
        (directory / "arrays").mkdir()
    for name, array in state.arrays.items():
        with open(directory / "arrays" / f"{name}.npy", "wb") as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)
    if state.texts:
        (directory / "texts").mkdir()
    for name, text in state.texts.items():
        (directory / "texts" / name).write_text(text)
    if state.blobs:
        (directory / "blobs").mkdir()
    for name, blob in state.blobs.items():
        (directory / "blobs" / name).write_bytes(blob)
    for name, part in state.parts.items():
        part.require_fitted()
        _write_tree(directory / "parts" / name, part)
    description = {
        "component": component.name,
        "schema": component.schema,
        "config": component.config.to_dict(),
        "meta": state.meta,
        "arrays": sorted(state.arrays),
        "texts": sorted(state.texts),
        "parts": sorted(state.parts),
        "blobs": sorted(state.blobs),
    }
    (directory / COMPONENT).write_text(
        json.dumps(description, indent=2, sort_keys=True, default=_plain)
    )


def _read_tree(root: Path, directory: Path, *, mmap: bool) -> Component:
    where = directory.relative_to(root).as_posix()
    label = "" if where == "." else f" ({where})"
    try:
        description = json.loads((directory / COMPONENT).read_text())
        cls = component_class(description["component"])
        schema = description.get("schema", 1)  # bundles before schemas were all 1
        if schema != cls.schema:
            raise bundle_error(
                root,
                f"holds a {cls.name!r}{label} saved in layout {schema}; this recsys reads"
                f" layout {cls.schema}",
            )
        component = cls(cls.Config.from_dict(description["config"]))
        arrays = {
            name: np.load(
                directory / "arrays" / f"{name}.npy",
                mmap_mode="r" if mmap else None,
                allow_pickle=False,
            )
            for name in description["arrays"]
        }
        texts = {name: (directory / "texts" / name).read_text() for name in description["texts"]}
        parts = {
            name: _read_tree(root, directory / "parts" / name, mmap=mmap)
            for name in description["parts"]
        }
        blobs = {
            name: (directory / "blobs" / name).read_bytes()
            for name in description.get("blobs", [])  # bundles before blobs have none
        }
        component._restore(State(arrays, description["meta"], texts, parts, blobs))
    except ModelBundleError:
        raise
    except (InputError, KeyError, ValueError, TypeError, OSError, EOFError) as exc:
        raise bundle_error(root, f"is corrupt{label} ({type(exc).__name__}: {exc})") from None
    component.fitted = True
    return component


def _plain(value: Any) -> Any:
    """numpy scalars in a component's meta become plain JSON numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
