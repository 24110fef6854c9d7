"""The one bundle format: atomic versioned writes, a `current` pointer, exact round trips
(memory-mapped too), and one clear line for anything damaged."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recommender.core.bundle import read_bundle, read_manifest
from recommender.errors import ModelBundleError
from recommender.hybrid.recommender import HybridRecommender
from recommender.services.bundles import (
    RECOMMENDER,
    current_path,
    current_recommender,
    new_version,
    publish,
    write_version,
)
from tests.test_hybrid_recommender import make_dataset


@pytest.fixture(scope="module")
def trained() -> HybridRecommender:
    return HybridRecommender.train(make_dataset(), model="als", factors=8, seed=3)


@pytest.mark.parametrize("mmap", [False, True])
def test_round_trip_gives_identical_recommendations(trained, tmp_path, mmap):
    path = trained.save(tmp_path / "v1")
    loaded = HybridRecommender.load(path, mmap=mmap)
    for user in ("u00", "u07", "u30"):
        before = trained.recommend(user, n=10, explain=True)
        after = loaded.recommend(user, n=10, explain=True)
        assert before == after
    assert np.array_equal(trained.ranker.score(np.arange(40)), loaded.ranker.score(np.arange(40)))
    assert trained.audience("t64", n=5) == loaded.audience("t64", n=5)
    assert trained.similar("t62", n=5) == loaded.similar("t62", n=5)
    assert loaded.recommend_history({"t01": 3.0, "t02": 1.0}, n=5) == trained.recommend_history(
        {"t01": 3.0, "t02": 1.0}, n=5
    )


def test_memory_mapped_arrays_are_read_only_views_of_the_files(trained, tmp_path):
    loaded = HybridRecommender.load(trained.save(tmp_path / "v1"), mmap=True)
    factors = loaded.scorer.cf.user_factors
    assert isinstance(factors, np.memmap) and not factors.flags.writeable


def test_layout_and_manifest(trained, tmp_path):
    path = trained.save(tmp_path / "v1", manifest={"version": "v1"})
    manifest = read_manifest(path)
    assert manifest["component"] == "recommender" and manifest["version"] == "v1"
    assert manifest["versions"]["numpy"] == np.__version__
    files = set(manifest["files"])
    assert {"component.json", "arrays/item_ids.npy", "parts/ranker/component.json"} <= files
    assert "parts/ranker/parts/cf/arrays/user_factors.npy" in files
    description = json.loads((path / "parts/ranker/component.json").read_text())
    assert description["component"] == "hybrid"
    assert description["config"]["cf"] == {
        "name": "als",
        "config": trained.ranker.config.cf.config.to_dict(),
    }
    assert not list(tmp_path.glob(".v1.*")), "no temp directory left behind"
    ids = np.load(path / "arrays" / "item_ids.npy", allow_pickle=False)  # loads without pickle
    assert ids.dtype.kind == "U"


def test_current_pointer_follows_publish(trained, tmp_path):
    with pytest.raises(ModelBundleError, match="run `recsys train`"):
        current_path(tmp_path, RECOMMENDER)
    first, second = new_version("aaaa"), new_version("bbbb")
    write_version(tmp_path, RECOMMENDER, first, trained, {"version": first})
    publish(tmp_path, RECOMMENDER, first)
    assert current_path(tmp_path, RECOMMENDER) == tmp_path / RECOMMENDER / first
    write_version(tmp_path, RECOMMENDER, second, trained, {"version": second})
    publish(tmp_path, RECOMMENDER, second)
    assert len(current_recommender(tmp_path).users) == 40
    assert (tmp_path / RECOMMENDER / "current").read_text().strip() == second


@pytest.mark.parametrize(
    "damage", ["truncate-npy", "flip-byte", "drop-part", "bad-json", "wrong-format", "escape"]
)
def test_corrupt_bundle_says_run_recsys_train(trained, tmp_path, damage):
    path = trained.save(tmp_path / "v1")
    arrays = path / "parts" / "ranker" / "parts" / "cf" / "arrays"
    if damage == "truncate-npy":
        blob = (path / "arrays" / "plays_data.npy").read_bytes()
        (path / "arrays" / "plays_data.npy").write_bytes(blob[: len(blob) // 2])
    elif damage == "flip-byte":
        blob = bytearray((arrays / "item_factors.npy").read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        (arrays / "item_factors.npy").write_bytes(bytes(blob))
    elif damage == "drop-part":
        (path / "parts" / "ranker" / "component.json").unlink()
    elif damage == "bad-json":
        (path / "manifest.json").write_text("{not json")
    else:
        manifest = json.loads((path / "manifest.json").read_text())
        if damage == "wrong-format":
            manifest["format_version"] = 1
        else:  # a file list pointing outside the bundle is refused, not followed
            manifest["files"]["../../etc/passwd"] = "0" * 64
        (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelBundleError, match="run `recsys train`") as info:
        HybridRecommender.load(path)
    assert "\n" not in str(info.value)


def test_a_consistent_but_wrong_bundle_is_refused_after_the_checksums(trained, tmp_path):
    """Even with checksums rewritten to match, inconsistent arrays are a bundle error."""
    from recommender.core.bundle import _sha256

    path = trained.save(tmp_path / "v1")
    np.save(path / "arrays" / "user_ids.npy", np.asarray(["only-one"]), allow_pickle=False)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["arrays/user_ids.npy"] = _sha256(path / "arrays" / "user_ids.npy")
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelBundleError) as info:
        read_bundle(path)
    assert " has arrays/user_ids.npy of (1,) <U8, expected (users=40,) text;" in str(info.value)


def test_object_arrays_are_never_written(tmp_path):
    from recommender.baselines import PopularityRanker

    model = PopularityRanker().fit(make_dataset())
    model.item_scores = np.array([object()] * 3)
    with pytest.raises(ValueError, match="allow_pickle=False"):
        model.save(tmp_path / "bad")
    assert not any(tmp_path.iterdir()), "a failed write leaves nothing behind"
