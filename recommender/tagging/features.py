"""Tagger input: the stored summary vector joined with the bag-of-frames histogram.

The codebook is learned from training tracks' frame samples only, so a
held-out evaluation never sees its test tracks' frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.audio.codebook import Codebook
from recommender.core.configs import Config


@dataclass(frozen=True)
class CodebookConfig(Config):
    k: int = 16  # 0 = summary statistics only; 32+ overfits catalogues of ~100 tracks (gtzan-mini)
    pca_components: int | None = 16
    seed: int = 0


def fit_codebook(frames: Sequence[np.ndarray], config: CodebookConfig) -> Codebook | None:
    if config.k <= 0:
        return None
    n_frames = sum(f.shape[0] for f in frames)
    k = min(config.k, max(2, n_frames // 4))
    return Codebook.fit(list(frames), k=k, pca_components=config.pca_components, seed=config.seed)


def song_matrix(
    summaries: np.ndarray, frames: Sequence[np.ndarray], codebook: Codebook | None
) -> np.ndarray:
    """(n_tracks, summary_dim + k) float64 features."""
    summaries = np.asarray(summaries, dtype=np.float64)
    if codebook is None:
        return summaries
    return np.hstack([summaries, codebook.histograms(frames).astype(np.float64)])
