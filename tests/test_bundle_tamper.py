"""Tampered bundles: every mutation of a real small bundle (recommender and tagger) is the one
bundle error (ModelBundleError, one line, exit 2, HTTP 503 no_model), never an unexpected
one, and never reads more than the files hold. Loading that passes must give the model back."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from recommender.core.bundle import read_bundle
from recommender.errors import ModelBundleError
from recommender.services.bundles import RECOMMENDER, TAGGER, current_path, publish
from tests.conftest import run_cli

VERSION = "v1"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _resign(bundle: Path) -> None:
    """Rewrite every checksum to match: what a tamperer who knows the format does."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = {
        name: _sha(bundle / name) for name in manifest["files"] if (bundle / name).is_file()
    }
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _npy(header: dict, payload: bytes = b"", version: int = 1) -> bytes:
    """A .npy file with exactly this header (padded as numpy pads it)."""
    text = repr(header).encode()
    pad = (-(10 + len(text) + 1)) % 64
    return b"\x93NUMPY\x01\x00" + (len(text) + pad + 1).to_bytes(2, "little") + text + (
        b" " * pad + b"\n"
    ) + payload


def _zip_bomb(gigabytes: int = 1) -> bytes:
    """A real .npz of a few MB whose member inflates to `gigabytes` GB of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("arr_0.npy", "w", force_zip64=True) as member:
            count = (gigabytes << 30) // 8
            member.write(_npy({"descr": "<f8", "fortran_order": False, "shape": (count,)}))
            zeros = bytes(64 << 20)
            for _ in range((gigabytes << 30) // len(zeros)):
                member.write(zeros)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = _zip_bomb()
    assert len(data) < 8 << 20 and zipfile.ZipFile(io.BytesIO(data)).infolist()[0].file_size > 1e9
    return data


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real recommender bundle and a real tagger bundle (LightGBM texts, codebook, novelty)."""
    from recommender.audio.config import FeatureConfig
    from recommender.audio.song_vector import extract_file
    from recommender.core.registry import Spec
    from recommender.hybrid.recommender import HybridRecommender
    from recommender.tagging.features import CodebookConfig
    from recommender.tagging.pipeline import PipelineConfig, TaggerPipeline
    from tests.audio_signals import KINDS, render, write
    from tests.test_hybrid_recommender import make_dataset

    root = tmp_path_factory.mktemp("tamper")
    rec = HybridRecommender.train(make_dataset(), model="als", factors=4, seed=3)
    rec.save(root / "models" / RECOMMENDER / VERSION)
    rng = np.random.default_rng(0)
    config = FeatureConfig(frame_sample=16)
    songs, labels = [], []
    (root / "audio").mkdir()
    for i in range(12):
        kind = KINDS[i % 3]
        clip = write(root / "audio" / f"{i}.wav", render(kind, rng, seconds=1.0))
        songs.append(extract_file(clip, config))
        labels.append([k == kind for k in KINDS])
    tagger = TaggerPipeline(
        PipelineConfig(
            tagger=Spec.of("lightgbm"),
            codebook=CodebookConfig(k=3, pca_components=3),
            features=config,
        )
    ).fit(
        np.array([s.summary for s in songs]),
        [s.frames for s in songs],
        np.array(labels, dtype=np.float64),
        list(KINDS),
    )
    tagger.save(root / "models" / TAGGER / VERSION)
    for kind in (RECOMMENDER, TAGGER):
        publish(root / "models", kind, VERSION)
    return {"models": root / "models", "clip": root / "audio" / "0.wav"}


@pytest.fixture
def models(originals, tmp_path) -> Path:
    """A fresh copy of the models folder to damage."""
    return Path(shutil.copytree(originals["models"], tmp_path / "models", symlinks=True))


def _files(bundle: Path) -> list[str]:
    return sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())


def _load(models: Path, kind: str):
    return read_bundle(current_path(models, kind))


def _refused(models: Path, kind: str) -> str:
    with pytest.raises(ModelBundleError) as info:
        _load(models, kind)
    message = str(info.value)
    assert "\n" not in message and len(message) < 600, message
    return message


# ---- every file, every byte position class ---------------------------------------------------
@pytest.mark.parametrize("kind", [RECOMMENDER, TAGGER])
def test_a_flipped_byte_in_any_file_is_the_bundle_error(originals, tmp_path, kind):
    source = originals["models"] / kind / VERSION
    for name in _files(source):
        bundle = Path(shutil.copytree(source, tmp_path / name.replace("/", "_")))
        blob = bytearray((bundle / name).read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        (bundle / name).write_bytes(bytes(blob))
        with pytest.raises(ModelBundleError, match="run `recsys train`") as info:
            read_bundle(bundle)
        assert "\n" not in str(info.value)
        shutil.rmtree(bundle)


@pytest.mark.parametrize("kind", [RECOMMENDER, TAGGER])
def test_a_resigned_flip_anywhere_loads_or_is_the_bundle_error(originals, tmp_path, kind):
    """With checksums rewritten a flip in array data may be a valid model; anything else
    (headers, JSON, LightGBM text) must be refused as the bundle, never crash."""
    source = originals["models"] / kind / VERSION
    refused = 0
    for name in _files(source):
        if name == "manifest.json":
            continue
        size = (source / name).stat().st_size
        for at in sorted({20, size // 2}):  # inside a .npy header, and the data
            bundle = Path(shutil.copytree(source, tmp_path / "b"))
            blob = bytearray((bundle / name).read_bytes())
            blob[at] ^= 0xFF
            (bundle / name).write_bytes(bytes(blob))
            _resign(bundle)
            try:
                read_bundle(bundle)
            except ModelBundleError as exc:
                assert "\n" not in str(exc)
                refused += 1
            shutil.rmtree(bundle)
    assert refused > 10  # header flips at least


# ---- the manifest ----------------------------------------------------------------------------
def _edit_manifest(bundle: Path, change: Callable[[dict], object]) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    value = change(manifest)
    (bundle / "manifest.json").write_text(value if isinstance(value, str) else json.dumps(value))


DEEP = "[" * 100_000 + "]" * 100_000
MANIFESTS: dict[str, Callable[[dict], object]] = {
    "files is a list": lambda m: m | {"files": list(m["files"])},
    "files is a string": lambda m: m | {"files": "component.json"},
    "files is null": lambda m: m | {"files": None},
    "files is empty": lambda m: m | {"files": {}},
    "checksums are numbers": lambda m: m | {"files": dict.fromkeys(m["files"], 1)},
    "format_version is a string": lambda m: m | {"format_version": "2"},
    "format_version is true": lambda m: m | {"format_version": True},
    "manifest is a list": lambda m: [m],
    "manifest nests 100000 deep": lambda m: DEEP,
    "a value nests 100000 deep": lambda m: json.dumps(m)[:-1] + f', "x": {DEEP}}}',
    "a value nests 40 deep": lambda m: m | {"metrics": json.loads("[" * 40 + "]" * 40)},
    "data is a list": lambda m: m | {"data": [1]},
    "key ../../etc/passwd hashed": lambda m: m
    | {"files": m["files"] | {"../../../../../etc/passwd": _sha(Path("/etc/passwd"))}},
    "key /etc/passwd hashed": lambda m: m
    | {"files": m["files"] | {"/etc/passwd": _sha(Path("/etc/passwd"))}},
    "key with a newline": lambda m: m | {"files": m["files"] | {"component.json\n": "0" * 64}},
    "a listed file is missing": lambda m: m | {"files": m["files"] | {"arrays/x.npy": "0" * 64}},
    "not utf-8": lambda m: "\udcff",
}


@pytest.mark.parametrize("case", list(MANIFESTS))
@pytest.mark.parametrize("kind", [RECOMMENDER, TAGGER])
def test_a_manifest_not_as_written_is_the_bundle_error(models, kind, case):
    bundle = current_path(models, kind)
    if case == "not utf-8":
        (bundle / "manifest.json").write_bytes(os.urandom(2048))
    else:
        _edit_manifest(bundle, MANIFESTS[case])
    message = _refused(models, kind)
    assert "passwd" not in message or "not a bundle file name" in message


def test_symlinks_and_unlisted_files_are_refused(models):
    bundle = current_path(models, RECOMMENDER)
    os.symlink("/etc", bundle / "etc")
    _edit_manifest(bundle, lambda m: m | {"files": m["files"] | {"etc": "0" * 64}})
    assert "not a bundle file name" in _refused(models, RECOMMENDER)
    (bundle / "etc").unlink()
    _edit_manifest(bundle, lambda m: m | {"files": dict(list(m["files"].items())[:-1])})  # no etc
    os.symlink("/etc/passwd", bundle / "texts")  # a symlink where a folder may be
    assert "not a plain file" in _refused(models, RECOMMENDER)
    (bundle / "texts").unlink()
    (bundle / "component.json").rename(bundle / "c.json")
    (bundle / "component.json").symlink_to(bundle / "c.json")
    assert "not a plain file" in _refused(models, RECOMMENDER)
    (bundle / "component.json").unlink()
    (bundle / "c.json").rename(bundle / "component.json")
    (bundle / "extra.bin").write_bytes(b"x")
    assert "extra.bin" in _refused(models, RECOMMENDER)
    (bundle / "extra.bin").unlink()
    _load(models, RECOMMENDER)  # undone: loads again


# ---- component.json --------------------------------------------------------------------------
COMPONENTS: dict[str, Callable[[dict], object]] = {
    "arrays is a string": lambda d: d | {"arrays": "abc"},
    "arrays name escapes": lambda d: d | {"arrays": ["../../manifest"]},
    "arrays name twice": lambda d: d | {"arrays": d["arrays"] + d["arrays"][:1]},
    "meta is a list": lambda d: d | {"meta": [1]},
    "config is a string": lambda d: d | {"config": "x"},
    "config has a wrong type": lambda d: d | {"config": d["config"] | {"seed": "x"}},
    "nests 100000 deep": lambda d: DEEP,
    "unknown component": lambda d: d | {"component": "nope"},
    "a part that is not there": lambda d: d | {"parts": ["x"]},
    "schema is a string": lambda d: d | {"schema": "1"},
    "an array left undescribed": lambda d: d | {"arrays": d["arrays"][1:]},
}


@pytest.mark.parametrize("case", list(COMPONENTS))
@pytest.mark.parametrize("kind", [RECOMMENDER, TAGGER])
def test_a_component_description_not_as_written_is_the_bundle_error(models, kind, case):
    bundle = current_path(models, kind)
    description = json.loads((bundle / "component.json").read_text())
    value = COMPONENTS[case](description)
    (bundle / "component.json").write_text(value if isinstance(value, str) else json.dumps(value))
    _resign(bundle)
    _refused(models, kind)


# ---- arrays: header, size, dtype, shape ------------------------------------------------------
def _arrays(bundle: Path) -> list[str]:
    return [name for name in _files(bundle) if name.endswith(".npy")]


ARRAYS: dict[str, Callable[[np.ndarray], bytes]] = {
    "header claims 10^12 elements": lambda a: _npy(
        {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    ),
    "header claims 10^30 elements": lambda a: _npy(
        {"descr": "<f8", "fortran_order": False, "shape": (10**15, 10**15)}
    ),
    "negative shape": lambda a: _npy({"descr": "<f8", "fortran_order": False, "shape": (-1,)}),
    "object dtype": lambda a: _npy(
        {"descr": "|O", "fortran_order": False, "shape": (1,)}, b"\x80\x04N."
    ),
    "record dtype": lambda a: _npy(
        {"descr": [("a", "<f8")], "fortran_order": False, "shape": (1,)}, bytes(8)
    ),
    "huge header": lambda a: b"\x93NUMPY\x02\x00"
    + (10**6).to_bytes(4, "little")
    + b"{"
    + b" " * (10**6 - 2)
    + b"\n",
    "unknown npy version": lambda a: b"\x93NUMPY\x09\x00" + bytes(100),
    "one element short": lambda a: _save(a.ravel()[:-1] if a.size else np.zeros(1)),
    "one element more": lambda a: _save(np.concatenate([a.ravel(), a.ravel()[:1]])),
    "one row short": lambda a: _save(a[:-1] if a.ndim else a.reshape(1)),
    "one column short": lambda a: _save(a[:, :-1] if a.ndim == 2 else np.zeros((1, 1), a.dtype)),
    "transposed": lambda a: _save(np.zeros((3, 5)) if a.ndim < 2 else np.ascontiguousarray(a.T)),
    "wrong dtype": lambda a: _save(np.zeros(a.shape, dtype="U3" if a.dtype.kind != "U" else "f8")),
    "numbers of another kind": lambda a: _save(
        np.zeros(a.shape, np.int64 if a.dtype.kind != "i" else np.float64)
    ),
    "truncated": lambda a: _save(a)[:-1],
    "not an array": lambda a: b"hello",
}


def _save(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


# What the header check refuses in every array file, before any data is read.
UNREAD = {"header claims 10^12 elements", "header claims 10^30 elements", "negative shape"}
UNREAD |= {"object dtype", "record dtype", "huge header", "unknown npy version", "truncated"}
UNREAD |= {"not an array"}


@pytest.mark.parametrize("case", list(ARRAYS))
@pytest.mark.parametrize("kind", [RECOMMENDER, TAGGER])
def test_an_array_not_as_written_is_the_bundle_error_in_every_file(originals, tmp_path, kind, case):
    """Each array file in turn, re-signed: a header that is not what np.save wrote for a
    plain array is refused before its data is read; a plain array of another shape or dtype
    is refused by the component that reads it (`Shapes`), naming the file when the file
    alone is wrong; nothing fails as anything but the bundle error."""
    source = originals["models"] / kind / VERSION
    loaded = []
    for name in _arrays(source):
        bundle = Path(shutil.copytree(source, tmp_path / "b"))
        array = np.load(bundle / name, allow_pickle=False)
        (bundle / name).write_bytes(ARRAYS[case](array))
        _resign(bundle)
        try:
            read_bundle(bundle)
        except ModelBundleError as exc:
            assert "\n" not in str(exc), exc
        else:
            loaded.append(name)
        shutil.rmtree(bundle)
    square = [n for n in _arrays(source) if _is_square(source / n)]
    assert loaded == (square if case == "transposed" else []), f"{kind}, {case}: loaded"


def _is_square(file: Path) -> bool:
    shape = np.load(file, mmap_mode="r").shape
    return len(shape) == 2 and shape[0] == shape[1]


SHAPE_ERRORS = {  # (kind, file, case): the one line names the file, found and expected
    (RECOMMENDER, "arrays/titles.npy", "one row short"): "(67,) <U7, expected (items=68,) text",
    (RECOMMENDER, "parts/ranker/arrays/mapped_t.npy", "transposed"): "(68, 4) float32,"
    " expected (factors=4, items=68) float",
    (RECOMMENDER, "parts/ranker/arrays/idf.npy", "wrong dtype"): "(5,) <U3,"
    " expected (tags=5,) float",
    (RECOMMENDER, "parts/ranker/parts/cf/arrays/weighting_idf.npy", "one row short"): "(67,)"
    " float64, expected (items=68,) float",
    (RECOMMENDER, "arrays/plays_data.npy", "numbers of another kind"): "(480,) int64,"
    " expected (plays entries=480,) float",
    (TAGGER, "arrays/codebook_scale.npy", "one row short"): "(58,) float64, expected"
    " (frame=59,) float",
    (TAGGER, "parts/novelty/arrays/precision.npy", "one column short"): "(112, 111) float64,"
    " expected (features=112, features=112) float",
}


@pytest.mark.parametrize(("kind", "name", "case"), list(SHAPE_ERRORS))
def test_a_wrong_shape_or_dtype_is_named_in_the_one_line(models, kind, name, case):
    bundle = current_path(models, kind)
    array = np.load(bundle / name, allow_pickle=False)
    (bundle / name).write_bytes(ARRAYS[case](array))
    _resign(bundle)
    message = _refused(models, kind)
    assert f" has {name} of {SHAPE_ERRORS[kind, name, case]}; run `recsys train`" in message


@pytest.mark.parametrize("kind", [RECOMMENDER, TAGGER])
def test_a_zip_bomb_in_place_of_an_array_is_refused_unread(models, bomb, kind):
    """A re-signed .npz of a few MB that inflates to 1 GB: refused from its first bytes."""
    import resource

    bundle = current_path(models, kind)
    name = _arrays(bundle)[0]
    (bundle / name).write_bytes(bomb)
    _resign(bundle)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert "not a .npy array" in _refused(models, kind)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


def test_a_garbage_lightgbm_text_is_the_bundle_error(models):
    bundle = current_path(models, TAGGER)
    texts = [name for name in _files(bundle) if "/texts/" in name]
    assert texts, "the tagger bundle holds LightGBM texts"
    for name in texts:
        (bundle / name).write_text("tree\nversion=v4\nnum_class=abc\n" + "x" * 50)
    _resign(bundle)
    assert "LightGBM" in _refused(models, TAGGER)


# ---- the current pointer ---------------------------------------------------------------------
POINTERS: dict[str, Callable[[Path], object]] = {
    "binary": lambda p: p.write_bytes(bytes(range(256))),
    "utf-16": lambda p: p.write_text(VERSION, encoding="utf-16"),
    "20 MB": lambda p: p.write_bytes(b"a" * (20 << 20)),
    "..": lambda p: p.write_text("..\n"),
    "absolute": lambda p: p.write_text("/etc\n"),
    "nested path": lambda p: p.write_text(f"{VERSION}/parts\n"),
    "empty": lambda p: p.write_text(""),
    "a folder": lambda p: (p.unlink(), p.mkdir()),
    "a symlink to /dev/zero": lambda p: (p.unlink(), p.symlink_to("/dev/zero")),
    "a FIFO": lambda p: (p.unlink(), os.mkfifo(p)),
    "a version that is not there": lambda p: p.write_text("v2\n"),
}


@pytest.mark.parametrize("case", list(POINTERS))
def test_a_current_pointer_not_as_written_is_the_bundle_error(models, case):
    POINTERS[case](models / RECOMMENDER / "current")
    with pytest.raises(ModelBundleError, match="recsys train") as info:
        current_path(models, RECOMMENDER)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


# ---- where a user meets it: the CLI and the server -------------------------------------------
def _flip_resigned_header(bundle: Path) -> None:
    name = _arrays(bundle)[0]
    (bundle / name).write_bytes(
        _npy({"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    )
    _resign(bundle)


CLI_CASES: dict[str, tuple[str, Callable[[Path], object]]] = {
    "binary current": (RECOMMENDER, lambda b: (b.parent / "current").write_bytes(b"\x00\xff")),
    "files is a list": (
        RECOMMENDER,
        lambda b: _edit_manifest(b, lambda m: m | {"files": list(m["files"])}),
    ),
    "npy claims 10^12": (RECOMMENDER, _flip_resigned_header),
    "tagger flipped byte": (
        TAGGER,
        lambda b: (b / "component.json").write_text((b / "component.json").read_text() + " "),
    ),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_cli_says_one_line_and_exits_2(originals, models, tmp_path, case):
    kind, damage = CLI_CASES[case]
    damage(models / kind / VERSION)
    home = tmp_path / "home"
    shutil.move(models, home / "models")
    env = dict(os.environ, RECSYS_HOME=str(home))
    env["RECSYS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'recsys.db'}"
    env.pop("RECSYS_DEBUG", None)
    clip = str(originals["clip"])
    proc = run_cli(["recommend", "--user", "u01"] if kind == RECOMMENDER else ["tag", clip], env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model bundle"), proc.stderr
    assert "recsys train" in lines[0] and "unexpected" not in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_the_cli_still_answers_from_an_intact_bundle(originals, models, tmp_path):
    home = tmp_path / "home"
    shutil.move(models, home / "models")
    env = dict(os.environ, RECSYS_HOME=str(home))
    env["RECSYS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'recsys.db'}"
    proc = run_cli(["tag", str(originals["clip"]), "--json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["tags"][0]["tag"] == "tonal"


def test_the_server_answers_503_no_model(models, tmp_path):
    from fastapi.testclient import TestClient

    from recommender.server.app import create_app
    from recommender.server.state import ServerConfig
    from recommender.services.settings import Settings

    (models / RECOMMENDER / "current").write_bytes(b"\x00\xff")
    home = tmp_path / "home"
    shutil.move(models, home / "models")
    settings = Settings.load(home=home, database_url=f"sqlite:///{tmp_path / 'recsys.db'}")
    with TestClient(create_app(ServerConfig(settings=settings, poll_seconds=60))) as client:
        answer = client.get("/users/u01/recommendations")
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["code"] == "no_model" and "model bundle pointer" in error["message"]
