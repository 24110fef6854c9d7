"""Frame features: STFT → mel → log → MFCC + deltas, chroma, contrast, tempogram.

One STFT feeds every feature (librosa's per-feature functions would each
recompute it), which is most of why this is faster than the obvious script.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.audio.config import FeatureConfig


@dataclass(frozen=True)
class FrameFeatures:
    """Per-frame features of one signal; every matrix is (n_features, n_frames)."""

    mfcc: np.ndarray
    delta: np.ndarray
    chroma: np.ndarray
    contrast: np.ndarray
    onset: np.ndarray  # (n_frames,) onset strength
    tempogram: np.ndarray  # (tempogram_win, n_frames) autocorrelation over lags
    tempo: float  # global tempo estimate, BPM

    @property
    def n_frames(self) -> int:
        return self.mfcc.shape[1]

    def frame_matrix(self) -> np.ndarray:
        """(n_frames, n_mfcc * 2 + n_chroma + n_bands + 1): what the bag-of-frames codebook sees."""
        return np.vstack([self.mfcc, self.delta, self.chroma, self.contrast]).T.astype(np.float32)


def frame_dim(config: FeatureConfig) -> int:
    return 2 * config.n_mfcc + config.n_chroma + config.n_contrast_bands + 1


def _delta(mfcc: np.ndarray) -> np.ndarray:
    import librosa

    n = mfcc.shape[1]
    width = min(9, n if n % 2 else n - 1)
    if width < 3:  # too short for a derivative: call it flat
        return np.zeros_like(mfcc)
    return librosa.feature.delta(mfcc, width=width)


def compute_frames(y: np.ndarray, config: FeatureConfig) -> FrameFeatures:
    """Frame features of mono samples `y` (shape (n,)) decoded at `config.sr`."""
    import librosa

    sr, n_fft, hop = config.sr, config.n_fft, config.hop_length
    if y.size < n_fft:  # a clip shorter than one window: pad rather than warn and skew
        y = np.pad(y, (0, n_fft - y.size))
    magnitude = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    power = magnitude**2
    mel = librosa.feature.melspectrogram(
        S=power, sr=sr, n_fft=n_fft, n_mels=config.n_mels, fmax=config.fmax
    )
    log_mel = librosa.power_to_db(mel)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=config.n_mfcc)
    # A4 = 440 Hz: estimating tuning per clip costs time, warns on unpitched audio, and
    # would make the same note land in different bins on different tracks.
    chroma = librosa.feature.chroma_stft(
        S=power, sr=sr, n_fft=n_fft, n_chroma=config.n_chroma, tuning=0.0
    )
    contrast = librosa.feature.spectral_contrast(
        S=magnitude, sr=sr, n_fft=n_fft, n_bands=config.n_contrast_bands
    )
    onset = librosa.onset.onset_strength(S=log_mel, sr=sr, hop_length=hop)
    tempogram = librosa.feature.tempogram(
        onset_envelope=onset, sr=sr, hop_length=hop, win_length=config.tempogram_win
    )
    tempo = float(librosa.feature.tempo(tg=tempogram, sr=sr, hop_length=hop)[0])
    return FrameFeatures(
        mfcc=mfcc,
        delta=_delta(mfcc),
        chroma=chroma,
        contrast=contrast,
        onset=onset,
        tempogram=tempogram,
        tempo=tempo,
    )
