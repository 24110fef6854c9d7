"""Baselines reported beside every model: random, most popular, tag popularity, tag-profile cosine,
and, when the tagger is the CNN, audio-embedding cosine.

A model that cannot beat these on the same split is not worth shipping. The two
tag baselines are what a cold item can be placed with before any learning:
its crowd tags (from the training tag events only) or, for a track nobody has
tagged, the tags the audio tagger predicted for it. `audio-cosine` places it by
sound alone: how close its CNN embedding is to those of the tracks a user played.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.core.bundle import Shapes, sparse_arrays
from recommender.core.component import Ranker, State
from recommender.core.configs import Config
from recommender.data.dataset import Dataset
from recommender.errors import InputError, shown

TAG_SOURCES = ("auto", "crowd", "predicted")
PROFILES = ("played", "applied")


@dataclass(frozen=True)
class SeedConfig(Config):
    seed: int = 0


class RandomRanker(Ranker):
    """Uniform random scores, the same for a user whatever the batch it is scored in."""

    name: ClassVar[str] = "random"
    Config: ClassVar[type[Config]] = SeedConfig

    def fit(self, dataset: Dataset) -> Self:
        self.n_users, self.n_items = dataset.n_users, dataset.n_items
        self.fitted = True
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(user_rows), self.n_items), dtype=np.float32)
        for i, user in enumerate(np.asarray(user_rows)):
            out[i] = np.random.default_rng([self.config.seed, int(user)]).random(
                self.n_items, dtype=np.float32
            )
        return out

    def _state(self) -> State:
        return State(meta={"n_users": self.n_users, "n_items": self.n_items})

    def _restore(self, state: State) -> None:
        self.n_users, self.n_items = int(state.meta["n_users"]), int(state.meta["n_items"])


class _ItemScores(Ranker):
    """A non-personalised ranker: one score per item, the same for every user."""

    item_scores: np.ndarray = np.zeros(0, dtype=np.float32)

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.tile(self.item_scores, (len(user_rows), 1))

    def _fitted_on(self, dataset: Dataset, item_scores: np.ndarray) -> Self:
        self.n_users, self.n_items = dataset.n_users, dataset.n_items
        self.item_scores = np.asarray(item_scores, dtype=np.float32)
        self.fitted = True
        return self

    def _state(self) -> State:
        return State(arrays={"item_scores": self.item_scores}, meta={"n_users": self.n_users})

    def _restore(self, state: State) -> None:
        self.item_scores = np.asarray(Shapes(state.arrays)("item_scores", ("items",)), np.float32)
        self.n_users, self.n_items = int(state.meta["n_users"]), len(self.item_scores)


class PopularityRanker(_ItemScores):
    """Items ranked by how many training users played them (RecBole's Pop, binarised)."""

    name: ClassVar[str] = "pop"
    Config: ClassVar[type[Config]] = SeedConfig

    def fit(self, dataset: Dataset) -> Self:
        return self._fitted_on(dataset, dataset.item_play_counts())


@dataclass(frozen=True)
class TagSourceConfig(Config):
    """source: "crowd" tags, "predicted" (audio) tags, or "auto": crowd tags, and predicted
    tags for items the crowd never tagged (cold tracks with audio)."""

    source: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.source not in TAG_SOURCES:
            raise InputError(
                f"unknown tag source {shown(self.source)}; choose one of {TAG_SOURCES}"
            )


def item_tag_vectors(train: Dataset, *, source: str = "auto") -> sp.csr_matrix:
    """items x tags, L2-normalised rows: what each item is about, from training data only."""
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


class TagPopularityRanker(_ItemScores):
    """Non-personalised: items whose tags are those the training audience listens to most.

    The audience profile is the sum of the tag vectors of every training play;
    an item's score is the cosine between its tag vector and that profile.
    """

    name: ClassVar[str] = "tag-pop"
    Config: ClassVar[type[Config]] = TagSourceConfig
    reads_predicted_tags: ClassVar[bool] = True

    def fit(self, dataset: Dataset) -> Self:
        vectors = item_tag_vectors(dataset, source=self.config.source)
        profile = vectors.T @ dataset.item_play_counts().astype(np.float32)
        norm = np.linalg.norm(profile)
        scores = np.asarray(vectors @ (profile / norm if norm else profile)).ravel()
        return self._fitted_on(dataset, scores)


@dataclass(frozen=True)
class TagCosineConfig(TagSourceConfig):
    """profile: "played" (the tag vectors of the items the user played in training, which
    every listener has; the stronger on HetRec cold items) or "applied" (the tags the user
    applied in training, which only taggers have)."""

    profile: str = "played"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.profile not in PROFILES:
            raise InputError(f"unknown profile {shown(self.profile)}; choose 'played' or 'applied'")


class TagCosineRanker(Ranker):
    """User tag profile . item tag vector (cosine), the plain content baseline."""

    name: ClassVar[str] = "tag-cosine"
    Config: ClassVar[type[Config]] = TagCosineConfig
    reads_predicted_tags: ClassVar[bool] = True

    def fit(self, dataset: Dataset) -> Self:
        self.vectors = item_tag_vectors(dataset, source=self.config.source)
        if self.config.profile == "played":
            binary = sp.csr_matrix(dataset.plays, copy=True)
            binary.data = np.ones_like(binary.data, dtype=np.float32)
            profiles = binary @ self.vectors
        else:
            profiles = dataset.user_tag_counts()
        self.profiles = normalize(sp.csr_matrix(profiles, dtype=np.float32), norm="l2", axis=1)
        self.n_users, self.n_items = dataset.n_users, dataset.n_items
        self.fitted = True
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        users = self.profiles[np.asarray(user_rows)]
        return np.asarray((users @ self.vectors.T).toarray(), dtype=np.float32)

    def _state(self) -> State:
        return State(
            arrays=sparse_arrays("vectors", self.vectors) | sparse_arrays("profiles", self.profiles)
        )

    def _restore(self, state: State) -> None:
        a = Shapes(state.arrays)
        self.vectors = a.sparse("vectors", "items", "tags")
        self.profiles = a.sparse("profiles", "users", "tags")
        self.n_users, self.n_items = self.profiles.shape[0], self.vectors.shape[0]


class AudioCosineRanker(Ranker):
    """Cosine of an item's CNN embedding with the mean unit embedding of the user's played
    items: "more tracks that sound like yours", no tags and no CF involved."""

    name: ClassVar[str] = "audio-cosine"
    Config: ClassVar[type[Config]] = SeedConfig
    reads_predicted_tags: ClassVar[bool] = True  # the embeddings come with the tagger
    batch_invariant: ClassVar[bool] = False  # a dense BLAS product (an evaluation baseline)

    def fit(self, dataset: Dataset) -> Self:
        if dataset.item_embeddings is None:
            raise InputError(
                "audio-cosine needs the CNN tagger's embeddings; train it with"
                " `recsys train tagger --model cnn` (or evaluate with --taggers cnn)"
            )
        self.vectors = normalize(np.asarray(dataset.item_embeddings, dtype=np.float32))
        binary = sp.csr_matrix(dataset.plays, copy=True)
        binary.data = np.ones_like(binary.data, dtype=np.float32)
        self.profiles = normalize(np.asarray(binary @ self.vectors, dtype=np.float32))
        self.n_users, self.n_items = dataset.n_users, dataset.n_items
        self.fitted = True
        return self

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.profiles[np.asarray(user_rows)] @ self.vectors.T, dtype=np.float32)

    def _state(self) -> State:
        return State(arrays={"vectors": self.vectors, "profiles": self.profiles})

    def _restore(self, state: State) -> None:
        a = Shapes(state.arrays)
        self.vectors = a("vectors", ("items", "dims"))
        self.profiles = a("profiles", ("users", "dims"))
        self.n_users, self.n_items = self.profiles.shape[0], self.vectors.shape[0]
