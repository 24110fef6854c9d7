"""A HybridRecommender's state as bundle files (npz, plus the CF model's own files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recommender.bundle import (
    bundle_error,
    csr_arrays,
    csr_from,
    library_versions,
    load_npz,
    save_npz,
)
from recommender.data.dataset import Dataset
from recommender.data.vocabulary import Vocabulary
from recommender.hybrid.blend import BlendParams
from recommender.hybrid.scorer import ContentParams, HybridScorer
from recommender.tags.profiles import TagSpace

KIND = "hybrid"
ARRAYS = "hybrid.npz"
CF_DIR = "cf"
MATRICES = ("plays", "item_vectors", "user_profiles", "item_crowd", "item_tags")


def training_manifest(
    dataset: Dataset, cf: Any, scorer: HybridScorer, *, model: str, seed: int
) -> dict[str, Any]:
    """What a bundle records about its training: versions, parameters, data summary."""
    return {
        "kind": KIND,
        "versions": library_versions(("recsys", "numpy", "scipy", "scikit-learn", "implicit")),
        "model": model,
        "seed": seed,
        "cf": cf.manifest(),
        "blend": scorer.blend.to_dict(),
        "content": scorer.content.to_dict(),
        "data": {
            "fingerprint": dataset.fingerprint(),
            "users": dataset.n_users,
            "items": dataset.n_items,
            "tags": len(dataset.tags),
            "plays": int(dataset.plays.nnz),
            "tag_assignments": len(dataset.tag_events),
            "cold_items": int((scorer.play_counts == 0).sum()),
            "predicted_tags_model": dataset.predicted_model_version,
        },
        "default_ranker": "blend",
    }


def state_arrays(rec: Any) -> dict[str, np.ndarray]:
    """Every array of a trained recommender except the CF model's (vocabularies included)."""
    sc: HybridScorer = rec.scorer
    arrays: dict[str, np.ndarray] = {
        "user_ids": rec.users.ids,
        "item_ids": rec.items.ids,
        "tag_ids": rec.tags.ids,
        "titles": rec.titles,
        "artists": rec.artists,
        "idf": sc.space.idf,
        "item_from_predicted": sc.space.item_from_predicted,
        "play_counts": np.asarray(sc.play_counts, dtype=np.int64),
        "attention": sc.attention,
    }
    if sc.mapped_factors is not None:
        arrays["mapped_factors"] = sc.mapped_factors
    matrices = {
        "plays": rec.plays,
        "item_vectors": sc.space.item_vectors,
        "user_profiles": sc.space.user_profiles,
        "item_crowd": rec.item_crowd,
        "item_tags": rec.item_tags,
    }
    for name, matrix in matrices.items():
        arrays.update(csr_arrays(name, matrix))
    return arrays


def write_state(directory: Path, rec: Any) -> None:
    rec.cf.save(directory / CF_DIR)
    save_npz(directory / ARRAYS, state_arrays(rec))


def read_state(directory: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for the HybridRecommender constructor; inconsistency is a bundle error."""
    from recommender.cf.base import load_cf_model

    cf = load_cf_model(directory / CF_DIR)
    arrays = load_npz(directory / ARRAYS)
    try:
        matrices = {name: csr_from(name, arrays) for name in MATRICES}
        users = Vocabulary(arrays["user_ids"], kind="user")
        items = Vocabulary(arrays["item_ids"], kind="track")
        tags = Vocabulary(arrays["tag_ids"], kind="tag")
        space = TagSpace(
            idf=arrays["idf"],
            item_vectors=matrices["item_vectors"],
            user_profiles=matrices["user_profiles"],
            item_from_predicted=arrays["item_from_predicted"],
        )
        factors = cf.user_factors
        scorer = HybridScorer(
            cf=cf,
            space=space,
            play_counts=arrays["play_counts"],
            attention=arrays["attention"],
            blend=BlendParams(**manifest["blend"]),
            content=ContentParams(**manifest["content"]),
            user_factors=None
            if factors is None
            else np.array(factors, dtype=np.float32, copy=True),
            mapped_factors=arrays.get("mapped_factors"),
        )
        expected = (len(users), len(items))
        if matrices["plays"].shape != expected or (cf.n_users, cf.n_items) != expected:
            raise ValueError(
                f"plays {matrices['plays'].shape} / CF {(cf.n_users, cf.n_items)} != {expected}"
            )
        if space.item_vectors.shape != (len(items), len(tags)):
            raise ValueError(
                f"item vectors {space.item_vectors.shape} != {(len(items), len(tags))}"
            )
    except (KeyError, ValueError, TypeError) as exc:
        raise bundle_error(directory, f"is corrupt ({type(exc).__name__}: {exc})") from None
    return {
        "users": users,
        "items": items,
        "tags": tags,
        "cf": cf,
        "scorer": scorer,
        "plays": matrices["plays"],
        "item_crowd": matrices["item_crowd"],
        "item_tags": matrices["item_tags"],
        "titles": arrays["titles"],
        "artists": arrays["artists"],
    }
