"""Model bundles: atomic versioned writes, a `current` pointer, exact round trips, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recommender.bundle import current_bundle, new_version, publish, read_manifest
from recommender.errors import ModelBundleError
from recommender.hybrid.recommender import HybridRecommender
from tests.test_hybrid_recommender import make_dataset


@pytest.fixture(scope="module")
def trained() -> HybridRecommender:
    return HybridRecommender.train(make_dataset(), model="als", factors=8, seed=3)


def test_round_trip_gives_identical_recommendations(trained, tmp_path):
    path = trained.save(tmp_path / "v1")
    loaded = HybridRecommender.load(path)
    for user in ("u00", "u07", "u30"):
        before = trained.recommend(user, n=10, explain=True)
        after = loaded.recommend(user, n=10, explain=True)
        assert [(r.item_id, r.score, r.source) for r in before] == [
            (r.item_id, r.score, r.source) for r in after
        ]
        assert [r.explanation for r in before] == [r.explanation for r in after]
    assert np.array_equal(
        trained.scorer.hybrid_scores(np.arange(40)), loaded.scorer.hybrid_scores(np.arange(40))
    )
    assert trained.audience("t64", n=5) == loaded.audience("t64", n=5)
    assert trained.similar("t62", n=5) == loaded.similar("t62", n=5)


def test_manifest_records_parameters_fingerprint_and_files(trained, tmp_path):
    path = trained.save(tmp_path / "v1")
    manifest = read_manifest(path, kind="hybrid")
    assert manifest["data"]["fingerprint"] == make_dataset().fingerprint()
    assert manifest["cf"]["name"] == "als" and manifest["seed"] == 3
    assert manifest["versions"]["numpy"] == np.__version__
    assert {"k", "content_mix"} <= set(manifest["blend"])
    assert {"hybrid.npz", "cf/cf.json", "cf/cf.npz"} <= set(manifest["files"])
    assert not list(tmp_path.glob(".v1.*")), "no temp directory left behind"
    with np.load(path / "hybrid.npz", allow_pickle=False) as data:  # loads without pickle
        assert data["item_ids"].dtype.kind == "U"


def test_current_pointer_follows_publish(trained, tmp_path):
    with pytest.raises(ModelBundleError, match="run `recsys train`"):
        current_bundle(tmp_path)
    first, second = new_version("aaaa"), new_version("bbbb")
    trained.save(tmp_path / first)
    publish(tmp_path, first)
    assert current_bundle(tmp_path) == tmp_path / first
    trained.save(tmp_path / second)
    publish(tmp_path, second)
    assert HybridRecommender.load_current(tmp_path).manifest["data"]["users"] == 40
    assert (tmp_path / "current").read_text().strip() == second


@pytest.mark.parametrize(
    "damage", ["truncate-npz", "flip-byte", "drop-cf", "bad-json", "wrong-kind"]
)
def test_corrupt_bundle_says_run_recsys_train(trained, tmp_path, damage):
    path = trained.save(tmp_path / "v1")
    if damage == "truncate-npz":
        blob = (path / "hybrid.npz").read_bytes()
        (path / "hybrid.npz").write_bytes(blob[: len(blob) // 2])
    elif damage == "flip-byte":
        blob = bytearray((path / "cf" / "cf.npz").read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        (path / "cf" / "cf.npz").write_bytes(bytes(blob))
    elif damage == "drop-cf":
        (path / "cf" / "cf.json").unlink()
    elif damage == "bad-json":
        (path / "manifest.json").write_text("{not json")
    else:
        manifest = json.loads((path / "manifest.json").read_text())
        (path / "manifest.json").write_text(json.dumps(manifest | {"kind": "tagger"}))
    with pytest.raises(ModelBundleError, match="run `recsys train`") as info:
        HybridRecommender.load(path)
    assert "\n" not in str(info.value)
