"""The one typed feature configuration, saved with every model so training and inference agree.

`extractor_version` hashes the parameters together with `CODE_VERSION`: changing
either gives new `track_features` rows instead of silently mixing vectors.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from recommender.core.configs import Config
from recommender.errors import InputError

# Bump when the feature code changes its output for the same parameters.
CODE_VERSION = "audio-1"


@dataclass(frozen=True)
class FeatureConfig(Config):
    """Decoding and frame-feature parameters (librosa names where they exist)."""

    sr: int = 22050
    offset: float = 0.0  # analysis window start, seconds
    duration: float | None = 30.0  # analysis window length, seconds (None = whole file)
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmax: float | None = 8000.0
    n_mfcc: int = 20
    n_chroma: int = 12
    n_contrast_bands: int = 6
    tempogram_win: int = 384  # onset frames (~8.9 s at 22,050/512)
    tempo_bands: int = 8  # log-spaced BPM bands the mean tempogram is pooled into
    frame_sample: int = 64  # frames kept per track for the bag-of-frames codebook

    def __post_init__(self) -> None:
        if self.sr <= 0 or self.n_fft <= 0 or self.hop_length <= 0:
            raise InputError(f"feature config: sr, n_fft and hop_length must be positive ({self})")
        if self.duration is not None and self.duration <= 0:
            raise InputError(
                f"feature config: duration must be positive or None, got {self.duration}"
            )
        if self.offset < 0:
            raise InputError(f"feature config: offset must be >= 0, got {self.offset}")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureConfig:
        return cls.from_dict(json.loads(text))

    @property
    def extractor_version(self) -> str:
        """Key of the song-vector rows in `track_features` (stable across processes)."""
        digest = hashlib.sha256(f"{CODE_VERSION}|{self.to_json()}".encode()).hexdigest()[:12]
        return f"{CODE_VERSION}-{digest}"

    @property
    def frames_version(self) -> str:
        """Key of the sampled-frames rows that the bag-of-frames codebook is learned from."""
        return f"{self.extractor_version}-frames"
