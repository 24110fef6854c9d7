"""Versioned model bundles: models/<version>/ written atomically, and a `current` pointer.

A bundle is a directory holding a JSON manifest (format, versions, parameters,
data fingerprint, metrics, sha256 of every file) and data files: arrays in .npz
(loaded with allow_pickle=False) and LightGBM text. Loading never executes code.
Writers fill a hidden temp directory, which is renamed into place only when
complete; the pointer file is replaced atomically, so a reader sees either the
old bundle or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.errors import ModelBundleError

FORMAT = "recsys-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CURRENT = "current"
FIX = "run `recsys train` to build a new model bundle"


def bundle_error(where: Path, problem: str) -> ModelBundleError:
    return ModelBundleError(f"model bundle {where} {problem}; {FIX}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_version(fingerprint: str) -> str:
    """Sortable and unique enough: UTC time to the millisecond plus the data fingerprint."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z"
    return f"{stamp}-{fingerprint[:8]}"


def write_bundle(
    target: Path, write_files: Callable[[Path], None], manifest: dict[str, Any]
) -> Path:
    """Create bundle directory `target` atomically: files, then the manifest, then rename.

    `write_files(tmp_dir)` writes the data files; every file it writes is checksummed
    into the manifest. An existing `target` is replaced.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write_files(tmp)
        files = {
            str(path.relative_to(tmp)): _sha256(path)
            for path in sorted(tmp.rglob("*"))
            if path.is_file()
        }
        full = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest, "files": files}
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


def publish(models_dir: Path, version: str) -> None:
    """Point `models_dir/current` at `version` (atomic replace of a one-line file)."""
    pointer = Path(models_dir) / CURRENT
    tmp = pointer.with_name(f".{CURRENT}.{os.getpid()}.tmp")
    tmp.write_text(version + "\n")
    os.replace(tmp, pointer)


def current_bundle(models_dir: Path) -> Path:
    """The bundle the `current` pointer names; missing pieces are ModelBundleErrors."""
    models_dir = Path(models_dir)
    pointer = models_dir / CURRENT
    if not pointer.is_file():
        raise ModelBundleError(f"no trained model in {models_dir}; {FIX}")
    version = pointer.read_text().strip()
    path = models_dir / version
    if not version or "/" in version or not path.is_dir():
        raise bundle_error(path, f"named by {pointer} is missing")
    return path


def read_manifest(path: Path, *, kind: str) -> dict[str, Any]:
    """The validated manifest of bundle `path`: right format and kind, every file intact."""
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
    if manifest.get("kind") != kind:
        raise bundle_error(path, f"holds a {manifest.get('kind')!r} model, expected {kind!r}")
    for name, digest in (manifest.get("files") or {}).items():
        file = path / name
        if not file.is_file():
            raise bundle_error(path, f"is incomplete ({name} is missing)")
        if _sha256(file) != digest:
            raise bundle_error(path, f"is corrupt ({name} does not match its checksum)")
    return manifest


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz, never unpickling; failures name the file and the fix."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise bundle_error(
            Path(path).parent, f"has an unreadable {Path(path).name} ({exc})"
        ) from None


def csr_arrays(prefix: str, matrix: sp.spmatrix) -> dict[str, np.ndarray]:
    """A CSR matrix as plain arrays (prefix_data/indices/indptr/shape) for an .npz."""
    csr = sp.csr_matrix(matrix)
    return {
        f"{prefix}_data": csr.data,
        f"{prefix}_indices": csr.indices,
        f"{prefix}_indptr": csr.indptr,
        f"{prefix}_shape": np.asarray(csr.shape, dtype=np.int64),
    }


def csr_from(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(v) for v in arrays[f"{prefix}_shape"])
    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
        shape=shape,
    )


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
