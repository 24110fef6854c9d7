"""Bag-of-frames: a k-means codebook over frame vectors, and per-track assignment histograms.

Fitting uses scikit-learn (StandardScaler → optional PCA → MiniBatchKMeans);
the fitted parameters are plain arrays (saved in the tagger's bundle) applied with
numpy, so loading a codebook never unpickles anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.core.bundle import Shapes


@dataclass(frozen=True)
class Codebook:
    mean: np.ndarray  # (frame_dim,) scaler mean
    scale: np.ndarray  # (frame_dim,) scaler std (1 where constant)
    components: np.ndarray  # (n_components, frame_dim); empty (0, frame_dim) without PCA
    pca_mean: np.ndarray  # (frame_dim,)
    centroids: np.ndarray  # (k, n_components or frame_dim)

    @property
    def k(self) -> int:
        return self.centroids.shape[0]

    @classmethod
    def fit(
        cls,
        frames: Sequence[np.ndarray] | np.ndarray,
        *,
        k: int = 32,
        pca_components: int | None = None,
        seed: int = 0,
    ) -> Codebook:
        """Learn K centroids from frames: a list of (n_i, frame_dim) arrays or one stack."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # small problem: threads only contend (see perceptron.py)
            return cls._fit(frames, k=k, pca_components=pca_components, seed=seed)

    @classmethod
    def _fit(cls, frames, *, k: int, pca_components: int | None, seed: int) -> Codebook:
        from sklearn.cluster import MiniBatchKMeans
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        stacked = np.vstack(frames) if not isinstance(frames, np.ndarray) else frames
        stacked = stacked.astype(np.float64)
        if stacked.shape[0] < k:
            raise ValueError(f"codebook: {stacked.shape[0]} training frames for k={k} centroids")
        scaler = StandardScaler().fit(stacked)
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        z = (stacked - scaler.mean_) / scale
        dim = z.shape[1]
        components = np.zeros((0, dim))
        pca_mean = np.zeros(dim)
        if pca_components:
            pca = PCA(n_components=min(pca_components, dim, z.shape[0]), random_state=seed).fit(z)
            components, pca_mean = pca.components_, pca.mean_
            z = (z - pca_mean) @ components.T
        kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
        kmeans.fit(z)
        return cls(scaler.mean_, scale, components, pca_mean, kmeans.cluster_centers_)

    def _project(self, frames: np.ndarray) -> np.ndarray:
        z = (frames.astype(np.float64) - self.mean) / self.scale
        if self.components.shape[0]:
            z = (z - self.pca_mean) @ self.components.T
        return z

    def assign(self, frames: np.ndarray) -> np.ndarray:
        """Index of the nearest centroid for each frame: (n_frames,) ints."""
        if frames.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        z = self._project(frames)
        # ||z - c||^2 up to the per-frame constant ||z||^2, in one matrix product
        distance = (self.centroids**2).sum(axis=1) - 2.0 * z @ self.centroids.T
        return np.argmin(distance, axis=1)

    def histogram(self, frames: np.ndarray) -> np.ndarray:
        """Fraction of the track's frames assigned to each centroid: (k,) float32 summing to 1."""
        return self.histograms([frames])[0]

    def histograms(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """(n_tracks, k) histograms for a list of per-track frame arrays, assigned in one batch."""
        if not len(frames):
            return np.zeros((0, self.k), dtype=np.float32)
        lengths = np.array([f.shape[0] for f in frames])
        owner = np.repeat(np.arange(len(frames)), lengths)
        labels = self.assign(np.vstack(frames)) if lengths.sum() else np.zeros(0, np.int64)
        counts = np.zeros((len(frames), self.k))
        np.add.at(counts, (owner, labels), 1.0)
        totals = np.maximum(lengths, 1)[:, None]
        return (counts / totals).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "mean": self.mean,
            "scale": self.scale,
            "components": self.components,
            "pca_mean": self.pca_mean,
            "centroids": self.centroids,
        }

    @classmethod
    def from_arrays(cls, arrays: Shapes, prefix: str = "") -> Codebook:
        """Take back `arrays()` (each name after `prefix`), every shape checked against the
        frame width (`arrays.dims["frame"]` when known) and its PCA components."""
        a = arrays
        components = a(f"{prefix}components", ("components", "frame"))
        return cls(
            a(f"{prefix}mean", ("frame",)),
            a(f"{prefix}scale", ("frame",)),
            components,
            a(f"{prefix}pca_mean", ("frame",)),
            a(f"{prefix}centroids", ("k", components.shape[0] or a.dims["frame"])),
        )
