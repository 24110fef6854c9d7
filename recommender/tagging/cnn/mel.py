"""The CNN's input: a log-mel spectrogram cut into fixed-length chunks.

Training and serving call the same functions on librosa's output, so the network
never sees a spectrogram computed one way in training and another when serving.
Chunks are short (about 3 s) because short-chunk CNNs tag as well as whole-clip
models and learn from far fewer examples (Won et al. 2020); a track's tags are the
mean of its chunks' probabilities.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.core.configs import Config
from recommender.errors import InputError

CODE_VERSION = "mel-1"  # bump when the output changes for the same parameters


@dataclass(frozen=True)
class MelConfig(Config):
    """librosa parameters of the log-mel input and the chunk the network sees."""

    sr: int = 22050
    offset: float = 0.0  # analysis window start, seconds
    duration: float | None = 30.0  # analysis window, seconds (None = whole file)
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = 11025.0
    chunk_frames: int = 128  # 128 x 512 / 22,050 = 2.97 s

    def __post_init__(self) -> None:
        if min(self.sr, self.n_fft, self.hop_length, self.n_mels, self.chunk_frames) <= 0:
            raise InputError(f"mel config: sizes must be positive ({self})")

    @property
    def chunk_seconds(self) -> float:
        return self.chunk_frames * self.hop_length / self.sr

    @property
    def version(self) -> str:
        """Key of cached spectrograms of this configuration."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return f"{CODE_VERSION}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def log_mel(y: np.ndarray, config: MelConfig) -> np.ndarray:
    """(n_mels, n_frames) float32 log-mel power in dB (ref 1.0) of mono samples `y`."""
    import librosa

    if y.size < config.n_fft:
        y = np.pad(y, (0, config.n_fft - y.size))
    power = librosa.feature.melspectrogram(
        y=y,
        sr=config.sr,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
    )
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)


def mel_file(path: str | Path, config: MelConfig) -> np.ndarray:
    """`log_mel` of an audio file's analysis window (AudioDecodeError if it is not audio)."""
    from recommender.audio.decode import load_audio

    y = load_audio(path, sr=config.sr, offset=config.offset, duration=config.duration)
    return log_mel(y, config)


def chunk_starts(n_frames: int, chunk: int) -> np.ndarray:
    """Start frames of the chunks that cover a spectrogram: evenly spaced, the last one
    ending at its end, at most `chunk` apart (one chunk at 0 when it is shorter)."""
    if n_frames <= chunk:
        return np.zeros(1, dtype=np.int64)
    count = int(np.ceil((n_frames - chunk) / chunk)) + 1
    return np.round(np.linspace(0, n_frames - chunk, count)).astype(np.int64)


def fit_chunk(mel: np.ndarray, start: int, chunk: int) -> np.ndarray:
    """(n_mels, chunk) from `start`; a short spectrogram is padded with its own quietest
    value (silence in its own scale), not zeros dB, which would read as loud."""
    piece = mel[:, start : start + chunk]
    if piece.shape[1] == chunk:
        return piece
    return np.pad(piece, ((0, 0), (0, chunk - piece.shape[1])), constant_values=float(mel.min()))


def track_chunks(mel: np.ndarray, chunk: int) -> np.ndarray:
    """(n_chunks, n_mels, chunk) float32 covering the whole spectrogram."""
    return np.stack([fit_chunk(mel, int(s), chunk) for s in chunk_starts(mel.shape[1], chunk)])
