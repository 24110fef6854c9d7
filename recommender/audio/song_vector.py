"""Song vector, the temporal approximation: summary statistics over frames, plus a frame sample.

The summary vector is fixed-length and needs no training, so the catalogue scan
stores it once. The bag-of-frames histogram needs a codebook learned from
training frames, so the scan also stores a bounded, evenly spaced sample of
frame vectors (`frame_sample` per track) from which codebook.py learns the
centroids and computes histograms later, without re-decoding any audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.audio.config import FeatureConfig
from recommender.audio.frames import FrameFeatures

# Log-spaced tempo bands (BPM) that the mean tempogram is pooled into.
TEMPO_RANGE_BPM = (40.0, 240.0)


@dataclass(frozen=True)
class SongFeatures:
    summary: np.ndarray  # (summary_dim,) float32
    frames: np.ndarray  # (<= frame_sample, frame_dim) float32
    seconds: float  # audio analysed


def summary_names(config: FeatureConfig) -> list[str]:
    """Names of the summary vector's entries, in order (for notebooks and importances)."""
    names: list[str] = []
    names += [f"mfcc{i}_mean" for i in range(config.n_mfcc)]
    names += [f"mfcc{i}_std" for i in range(config.n_mfcc)]
    names += [f"dmfcc{i}_std" for i in range(config.n_mfcc)]
    names += [f"chroma{i}_mean" for i in range(config.n_chroma)]
    names += [f"chroma{i}_std" for i in range(config.n_chroma)]
    names += [f"contrast{i}_mean" for i in range(config.n_contrast_bands + 1)]
    names += [f"contrast{i}_std" for i in range(config.n_contrast_bands + 1)]
    names += ["onset_mean", "onset_std", "tempo_bpm"]
    names += [f"tempogram_band{i}" for i in range(config.tempo_bands)]
    return names


def summary_dim(config: FeatureConfig) -> int:
    return len(summary_names(config))


def _tempo_bands(tempogram: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Mean tempogram pooled into log-spaced BPM bands: how strongly each pulse rate recurs."""
    mean_ac = tempogram.mean(axis=1)
    lags = np.arange(1, mean_ac.size)
    bpm = 60.0 * config.sr / (config.hop_length * lags)
    edges = np.geomspace(*TEMPO_RANGE_BPM, config.tempo_bands + 1)
    out = np.zeros(config.tempo_bands, dtype=np.float64)
    for band in range(config.tempo_bands):
        mask = (bpm >= edges[band]) & (bpm < edges[band + 1])
        if mask.any():
            out[band] = mean_ac[1:][mask].mean()
    return out


def summarise(frames: FrameFeatures, config: FeatureConfig) -> np.ndarray:
    """Summary statistics over frames, laid out as `summary_names(config)`."""
    parts = [
        frames.mfcc.mean(axis=1),
        frames.mfcc.std(axis=1),
        frames.delta.std(axis=1),
        frames.chroma.mean(axis=1),
        frames.chroma.std(axis=1),
        frames.contrast.mean(axis=1),
        frames.contrast.std(axis=1),
        [frames.onset.mean(), frames.onset.std(), frames.tempo],
        _tempo_bands(frames.tempogram, config),
    ]
    return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts]).astype(np.float32)


def sample_frames(frames: FrameFeatures, config: FeatureConfig) -> np.ndarray:
    """At most `frame_sample` evenly spaced frame vectors, so storage per track is bounded."""
    matrix = frames.frame_matrix()
    n = matrix.shape[0]
    if n <= config.frame_sample:
        return matrix
    index = np.linspace(0, n - 1, config.frame_sample).round().astype(int)
    return matrix[index]


def song_features(y: np.ndarray, config: FeatureConfig) -> SongFeatures:
    """Summary vector and frame sample of decoded samples `y` (mono, at `config.sr`)."""
    from recommender.audio.frames import compute_frames

    frames = compute_frames(y, config)
    return SongFeatures(
        summary=summarise(frames, config),
        frames=sample_frames(frames, config),
        seconds=y.size / config.sr,
    )


def extract_file(path: str | Path, config: FeatureConfig | None = None) -> SongFeatures:
    """Decode one file within the config's analysis window and featurise it (for `recsys tag`)."""
    from recommender.audio.decode import load_audio

    config = config or FeatureConfig()
    y = load_audio(path, sr=config.sr, offset=config.offset, duration=config.duration)
    return song_features(y, config)
