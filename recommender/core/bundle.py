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
import stat
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
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # one plain file name (fullmatch)
_N = _NAME.pattern
# Every file a bundle may hold, relative to its folder: nothing absolute, no `..`.
_FILE = re.compile(rf"(?:parts/{_N}/)*(?:component[.]json|arrays/{_N}[.]npy|texts/{_N}|blobs/{_N})")
_DIGEST = re.compile(r"[0-9a-f]{64}")
# Manifest entries that readers use, with the type they must have when present.
_MANIFEST_TYPES: dict[str, type] = {
    "component": str,
    "version": str,
    "versions": dict,
    "data": dict,
}
_TYPE_NAMES = {str: "string", dict: "JSON object", list: "list", int: "whole number"}
MAX_JSON_BYTES = 64 << 20  # manifest.json / component.json: ours are kilobytes
MAX_JSON_DEPTH = 32  # ours nest 5 deep; deeper is not ours (and must not exhaust the stack)
MAX_FILE_BYTES = 16 << 30  # one file; checked before it is hashed or read
_DTYPE_KINDS = "biufcUS"  # what np.save writes for our arrays: never objects or records
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
    """The one error for a bundle that is not exactly what `write_bundle` wrote: one line."""
    return ModelBundleError(f"model bundle {where} {' '.join(problem.split())}; {FIX}")


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
    files = read_manifest(path)["files"]
    used: set[str] = set()
    component = _read_tree(path, path, mmap=mmap, used=used)
    unused = sorted(set(files) - used)
    if unused:
        raise bundle_error(path, f"holds {unused[0]}, which no {COMPONENT} describes")
    if expect is not None and not isinstance(component, expect):
        raise bundle_error(path, f"holds a {component.name!r} model, not a {expect.__name__}")
    return component


def read_manifest(path: Path, *, verify: bool = True) -> dict[str, Any]:
    """The validated manifest of bundle `path`: this format, its schema, and (`verify`) every
    file in the folder listed, a plain file inside it and intact; nothing else present."""
    path = Path(path)
    if not path.is_dir():
        raise bundle_error(path, "is missing")
    manifest = _read_json(path, path / MANIFEST)
    problem = manifest_problem(manifest)
    if problem:
        raise bundle_error(path, f"has a {MANIFEST} that {problem}")
    if verify:
        _verify_files(path, manifest["files"])
    return manifest


def manifest_problem(manifest: Any) -> str | None:
    """What makes `manifest` not one `write_bundle` wrote (None: it is): the schema every
    reader relies on, checked before any value is used."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return "is not a recsys bundle manifest"
    version = manifest.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        return f"uses format {_clip(version)}, expected {FORMAT_VERSION}"
    files = manifest.get("files")
    if not isinstance(files, dict) or COMPONENT not in files:
        return "has no file list"
    for name, digest in files.items():
        if not _FILE.match(name):
            return f"lists {_clip(name)}, which is not a bundle file name"
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            return f"gives {name} a checksum that is not a sha256"
    for key, kind in _MANIFEST_TYPES.items():
        if key in manifest and not isinstance(manifest[key], kind):
            return f"has a {key!r} that is not a {_TYPE_NAMES[kind]}"
    return None


def _verify_files(path: Path, files: dict[str, str]) -> None:
    """Every listed file is a regular file inside `path` with its checksum, and the folder
    holds nothing else (no symlink, no extra file); sizes are capped before hashing."""
    present = set()
    for folder, dirs, names in os.walk(path):  # never follows a symlinked folder
        for name in [*dirs, *names]:
            entry = Path(folder) / name
            relative = entry.relative_to(path).as_posix()
            mode = os.lstat(entry).st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise bundle_error(path, f"holds {_clip(relative)}, which is not a plain file")
            if stat.S_ISREG(mode) and relative != MANIFEST:
                present.add(relative)
    missing = sorted(set(files) - present)
    if missing:
        raise bundle_error(path, f"is incomplete ({_clip(missing[0])} is missing)")
    extra = sorted(present - set(files))
    if extra:
        raise bundle_error(path, f"holds {_clip(extra[0])}, which its {MANIFEST} does not list")
    for name, digest in files.items():
        size = (path / name).stat().st_size
        if size > MAX_FILE_BYTES:
            raise bundle_error(path, f"holds {name} of {size:,} bytes (over {MAX_FILE_BYTES:,})")
        if _sha256(path / name) != digest:
            raise bundle_error(path, f"is corrupt ({name} does not match its checksum)")


def sparse_arrays(prefix: str, matrix: sp.spmatrix) -> dict[str, np.ndarray]:
    """A CSR matrix as plain arrays (prefix_data/indices/indptr/shape) for a bundle."""
    csr = sp.csr_matrix(matrix)
    return {
        f"{prefix}_data": csr.data,
        f"{prefix}_indices": csr.indices,
        f"{prefix}_indptr": csr.indptr,
        f"{prefix}_shape": np.asarray(csr.shape, dtype=np.int64),
    }


class ArrayMismatch(ValueError):
    """An array a `_restore` reads is not of the shape or dtype its `_state` wrote; the bundle
    reader names the bundle and the file (see `Shapes`)."""

    def __init__(self, name: str, found: str, expected: str) -> None:
        super().__init__(f"{name} is {found}, expected {expected}")
        self.name, self.found, self.expected = name, found, expected


_KIND_NAMES = {"f": "float", "i": "integer", "b": "bool", "U": "text"}
Side = int | str  # a fixed length, or a named dimension bound at first sight


class Shapes:
    """The one check of every array a component restores: its dtype kind and its shape.

    A re-signed array of another shape or dtype would otherwise load and fail later, at query
    time, as an unexpected error. Named dimensions ("items") bind to the first size seen (or
    to the value given here), so every array sharing one must agree: the items vocabulary,
    the rows of the item factors and the titles are one length.
    """

    def __init__(self, arrays: dict[str, np.ndarray], **dims: int) -> None:
        self.arrays, self.dims = arrays, dict(dims)

    def __call__(self, name: str, shape: tuple[Side, ...], kind: str = "f") -> np.ndarray:
        """`arrays[name]`, refused (ArrayMismatch) unless its dtype is of `kind` (numpy kind
        letters) and its shape is `shape`."""
        array = self.arrays[name]
        fits = array.ndim == len(shape)
        for side, want in zip(array.shape, shape, strict=False):
            if fits and isinstance(want, str):
                want = self.dims.setdefault(want, side)
            fits = fits and side == want
        if not fits or array.dtype.kind not in kind:
            sides = [s if isinstance(s, int) else f"{s}={self.dims.get(s, '?')}" for s in shape]
            kinds = " or ".join(_KIND_NAMES.get(k, k) for k in kind)
            raise ArrayMismatch(
                name,
                f"{_clip(array.shape)} {_clip(array.dtype)}",
                f"({', '.join(map(str, sides))}{',' if len(sides) == 1 else ''}) {kinds}",
            )
        return array

    def sparse(self, prefix: str, rows: Side, cols: Side) -> sp.csr_matrix:
        """The CSR matrix `sparse_arrays(prefix, ...)` wrote, each of its four arrays checked."""
        shape = self(f"{prefix}_shape", (2,), "i")
        nnz = f"{prefix} entries"
        data = self(f"{prefix}_data", (nnz,), "f")
        indices = self(f"{prefix}_indices", (nnz,), "i")
        sides = [int(side) for side in shape]
        for side, want in zip(sides, (rows, cols), strict=True):
            bound = self.dims.setdefault(want, side) if isinstance(want, str) else want
            if side != bound:
                named = [
                    f"{w}={self.dims.get(w, '?')}" if isinstance(w, str) else w
                    for w in (rows, cols)
                ]
                raise ArrayMismatch(
                    f"{prefix}_shape", f"[{sides[0]}, {sides[1]}]", f"[{', '.join(named)}]"
                )
        indptr = self(f"{prefix}_indptr", (sides[0] + 1,), "i")
        matrix = sp.csr_matrix((data, indices, indptr), shape=(sides[0], sides[1]))
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
    bad = [n for n in names if not _NAME.fullmatch(n)]
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


def _read_tree(root: Path, directory: Path, *, mmap: bool, used: set[str]) -> Component:
    """The component in `directory` (recursively), after its description passed its schema
    and every array its header check; `used` collects the files read (relative to root)."""
    where = directory.relative_to(root).as_posix()
    label = "" if where == "." else f" ({where})"
    prefix = "" if where == "." else f"{where}/"
    description = _read_json(root, directory / COMPONENT)
    problem = _description_problem(description)
    if problem:
        raise bundle_error(root, f"has a {prefix}{COMPONENT} that {problem}")
    used.add(prefix + COMPONENT)
    cls = _component_class(root, description["component"], label)
    schema = description.get("schema", 1)  # bundles before schemas were all 1
    if schema != cls.schema:
        raise bundle_error(
            root,
            f"holds a {cls.name!r}{label} saved in layout {schema}; this recsys reads"
            f" layout {cls.schema}",
        )
    arrays = {
        name: _read_array(root, f"{prefix}arrays/{name}.npy", mmap=mmap, used=used)
        for name in description["arrays"]
    }
    # Everything below parses bytes that passed the checks above, written by `_write_tree`;
    # whatever fails in it (a config, a LightGBM text, a component's consistency check) is
    # the bundle's fault, so it is the bundle error, never an unexpected one.
    try:
        component = cls(cls.Config.from_dict(description["config"]))
        texts = {}
        for name in description["texts"]:
            used.add(f"{prefix}texts/{name}")
            texts[name] = (directory / "texts" / name).read_text()
        blobs = {}
        for name in description.get("blobs", []):  # bundles before blobs have none
            used.add(f"{prefix}blobs/{name}")
            blobs[name] = (directory / "blobs" / name).read_bytes()
        parts = {
            name: _read_tree(root, directory / "parts" / name, mmap=mmap, used=used)
            for name in description["parts"]
        }
        component._restore(State(arrays, description["meta"], texts, parts, blobs))
    except ModelBundleError:
        raise
    except ArrayMismatch as exc:
        raise bundle_error(
            root, f"has {prefix}arrays/{exc.name}.npy of {exc.found}, expected {exc.expected}"
        ) from None
    except Exception as exc:  # noqa: BLE001 -- see above: bundle content, bundle error
        raise bundle_error(
            root, f"is corrupt{label} ({type(exc).__name__}: {_clip(exc)})"
        ) from None
    component.fitted = True
    return component


def _component_class(root: Path, name: str, label: str) -> type[Component]:
    try:
        return component_class(name)
    except (InputError, KeyError, ValueError):
        raise bundle_error(root, f"holds an unknown component {_clip(name)}{label}") from None


def _description_problem(description: Any) -> str | None:
    """What makes a component.json not one `_write_tree` wrote (None: it is)."""
    if not isinstance(description, dict):
        return "is not a JSON object"
    for key, kind in (("component", str), ("config", dict), ("meta", dict)):
        if not isinstance(description.get(key), kind):
            return f"has no {key!r} {_TYPE_NAMES[kind]}"
    if "schema" in description and type(description["schema"]) is not int:
        return "has a 'schema' that is not a whole number"
    for key in ("arrays", "texts", "parts", "blobs"):
        names = description.get(key, [])  # only blobs may be absent (older bundles)
        if key != "blobs" and key not in description or not isinstance(names, list):
            return f"has no {key!r} list"
        if len(set(map(str, names))) != len(names):
            return f"lists a name twice in {key!r}"
        for name in names:
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                return f"lists {_clip(name)} in {key!r}, which is not a plain file name"
    return None


def _read_array(root: Path, relative: str, *, mmap: bool, used: set[str]) -> np.ndarray:
    """One .npy array, after its header says a plain dtype and a shape whose bytes are
    exactly what the file holds: a header claiming 10^12 elements, an object array, a zip
    archive (np.load would open an .npz) or a huge header is refused before any data is read."""
    from numpy.lib import format as npy

    file = root / relative
    used.add(relative)
    try:
        with open(file, "rb") as handle:
            version = npy.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = npy.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = npy.read_array_header_2_0(handle)
            else:
                raise ValueError(f"npy format {version} is not one recsys writes")
            offset = handle.tell()
    except Exception as exc:  # noqa: BLE001 -- any header numpy cannot parse is not ours
        raise bundle_error(
            root, f"has {relative}, which is not a .npy array ({_clip(exc)})"
        ) from None
    if dtype.hasobject or dtype.names is not None or dtype.kind not in _DTYPE_KINDS:
        raise bundle_error(root, f"has {relative} of dtype {_clip(dtype)}, not a plain array")
    count = 1
    for side in shape:
        count *= side  # Python ints: a claimed 10^12 x 10^12 cannot overflow
    claimed, size = offset + count * dtype.itemsize, file.stat().st_size
    if claimed != size:
        raise bundle_error(
            root,
            f"has {relative} whose header claims shape {_clip(shape)} of {dtype}"
            f" ({claimed:,} bytes) but the file holds {size:,}",
        )
    return np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)


def _read_json(root: Path, file: Path) -> Any:
    """A bundle's JSON file, refused (as the bundle error) when it is too big, not UTF-8 JSON
    or nested deeper than any we write."""
    what = file.relative_to(root).as_posix()
    try:
        if not stat.S_ISREG(os.stat(file).st_mode):
            raise bundle_error(root, f"has a {what} that is not a plain file")
        with open(file, "rb") as handle:
            raw = handle.read(MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise bundle_error(root, f"has a {what} over {MAX_JSON_BYTES:,} bytes")
        value = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise bundle_error(root, f"has no {what}") from None
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        problem = "nests too deep" if isinstance(exc, RecursionError) else _clip(exc)
        raise bundle_error(root, f"has an unreadable {what} ({problem})") from None
    if _depth_over(value, MAX_JSON_DEPTH):
        raise bundle_error(root, f"has a {what} nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth_over(value: Any, limit: int) -> bool:
    """Whether `value` nests lists/objects more than `limit` deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend(
                (child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return False


def _clip(value: Any, limit: int = 80) -> str:
    """`value` for an error line: one line, at most `limit` characters."""
    text = "".join(c if c.isprintable() else "?" for c in " ".join(str(value).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
