"""Baselines reported beside every model: random, most popular, tag popularity, tag-profile cosine.

A model that cannot beat these on the same split is not worth shipping. The two
tag baselines are what a cold item can be placed with before any learning:
its crowd tags (from the training tag events only) or, for a track nobody has
tagged, the tags the audio tagger predicted for it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.data.dataset import Dataset

TAG_SOURCES = ("auto", "crowd", "predicted")


class RandomRanker:
    """Uniform random scores, the same for a user whatever the batch it is scored in."""

    name = "random"

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self.n_items = 0

    def fit(self, train: Dataset) -> RandomRanker:
        self.n_items = train.n_items
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(user_rows), self.n_items), dtype=np.float32)
        for i, user in enumerate(np.asarray(user_rows)):
            out[i] = np.random.default_rng([self.seed, int(user)]).random(
                self.n_items, dtype=np.float32
            )
        return out


class PopularityRanker:
    """Items ranked by how many training users played them (RecBole's Pop, binarised)."""

    name = "pop"

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed  # unused: popularity is deterministic; kept for a uniform factory
        self.item_users = np.zeros(0, dtype=np.float32)

    def fit(self, train: Dataset) -> PopularityRanker:
        self.item_users = train.item_play_counts().astype(np.float32)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.tile(self.item_users, (len(user_rows), 1))


def item_tag_vectors(train: Dataset, *, source: str = "auto") -> sp.csr_matrix:
    """items x tags, L2-normalised rows: what each item is about, from training data only.

    "crowd": counts of training users who applied each tag; "predicted": the audio
    tagger's probabilities; "auto": crowd tags, and predicted tags for items the
    crowd never tagged (cold tracks with audio).
    """
    if source not in TAG_SOURCES:
        raise ValueError(f"unknown tag source {source!r}; choose one of {TAG_SOURCES}")
    crowd = train.item_tag_counts()
    predicted = train.predicted_tags
    if source == "crowd" or predicted is None:
        vectors = crowd
    elif source == "predicted":
        vectors = sp.csr_matrix(predicted)
    else:
        untagged = (np.diff(crowd.indptr) == 0).astype(np.float32)
        vectors = crowd + sp.diags(untagged) @ sp.csr_matrix(predicted)
    return normalize(sp.csr_matrix(vectors, dtype=np.float32), norm="l2", axis=1)


def _binary(plays: sp.csr_matrix) -> sp.csr_matrix:
    ones = sp.csr_matrix(plays, copy=True)
    ones.data = np.ones_like(ones.data, dtype=np.float32)
    return ones


class TagPopularityRanker:
    """Non-personalised: items whose tags are those the training audience listens to most.

    The audience profile is the sum of the tag vectors of every training play;
    an item's score is the cosine between its tag vector and that profile.
    """

    name = "tag-pop"

    def __init__(self, *, seed: int = 0, source: str = "auto") -> None:
        self.seed = seed
        self.source = source
        self.item_scores = np.zeros(0, dtype=np.float32)

    def fit(self, train: Dataset) -> TagPopularityRanker:
        vectors = item_tag_vectors(train, source=self.source)
        profile = vectors.T @ train.item_play_counts().astype(np.float32)
        norm = np.linalg.norm(profile)
        self.item_scores = np.asarray(
            vectors @ (profile / norm if norm else profile), dtype=np.float32
        ).ravel()
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.tile(self.item_scores, (len(user_rows), 1))


class TagCosineRanker:
    """User tag profile · item crowd-tag vector (cosine), the plain content baseline.

    `profile="played"` (default): the sum of the tag vectors of the items the
    user played in training, which every listener has. `profile="applied"`: the
    tags the user applied in training, which only taggers have. "played" is the
    stronger of the two on HetRec Last.fm 2K cold items (see the evaluation notes).
    """

    name = "tag-cosine"

    def __init__(self, *, seed: int = 0, source: str = "auto", profile: str = "played") -> None:
        if profile not in ("played", "applied"):
            raise ValueError(f"unknown profile {profile!r}; choose 'played' or 'applied'")
        self.seed = seed
        self.source = source
        self.profile = profile
        self.vectors = sp.csr_matrix((0, 0), dtype=np.float32)
        self.profiles = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, train: Dataset) -> TagCosineRanker:
        self.vectors = item_tag_vectors(train, source=self.source)
        if self.profile == "played":
            profiles = _binary(train.plays) @ self.vectors
        else:
            profiles = train.user_tag_counts()
        self.profiles = normalize(sp.csr_matrix(profiles, dtype=np.float32), norm="l2", axis=1)
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        users = self.profiles[np.asarray(user_rows)]
        return np.asarray((self.vectors @ users.T).T.toarray(), dtype=np.float32)
