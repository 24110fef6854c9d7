"""Synthetic signals whose right answers are known, and a tiny tagged catalogue built from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from sqlalchemy import Engine, insert

from recommender.storage.schema import Tag, TagAssignment, Track, User

SR = 22050


def sine(freq: float, seconds: float = 3.0, *, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def white_noise(
    seconds: float = 3.0, *, sr: int = SR, seed: int = 0, amp: float = 0.3
) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def click_train(bpm: float, seconds: float = 8.0, *, sr: int = SR) -> np.ndarray:
    """Short decaying noise bursts every beat."""
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    click = (np.random.default_rng(1).standard_normal(256) * np.exp(-np.arange(256) / 40)).astype(
        np.float32
    )
    for start in np.arange(0, seconds, 60.0 / bpm):
        i = int(start * sr)
        y[i : i + 256] += click[: len(y[i : i + 256])]
    return 0.8 * y / np.abs(y).max()


def write(path: Path, y: np.ndarray, *, sr: int = SR, subtype: str | None = None) -> Path:
    sf.write(path, y, sr, subtype=subtype)
    return path


KINDS = ("tonal", "noisy", "percussive")


def render(kind: str, rng: np.random.Generator, seconds: float = 3.0) -> np.ndarray:
    if kind == "tonal":
        freqs = rng.uniform(200, 800, size=3)
        y = sum(sine(f, seconds, amp=0.2) for f in freqs)
    elif kind == "noisy":
        y = white_noise(seconds, seed=int(rng.integers(1 << 30)), amp=0.2)
    else:
        y = click_train(float(rng.uniform(90, 150)), seconds)
    return (y + 0.01 * rng.standard_normal(y.size)).astype(np.float32)


def make_catalogue(
    engine: Engine,
    folder: Path,
    *,
    tracks: int = 36,
    users: int = 8,
    seed: int = 0,
    unlabelled: int = 3,
) -> dict[str, str]:
    """Tracks of three audible kinds, tagged by users with their kind (plus a tag everyone uses).

    The last `unlabelled` tracks have audio but no tags (cold-start). Returns external id -> kind.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, str] = {}
    with engine.begin() as conn:
        conn.execute(insert(User), [{"external_id": f"u{u}"} for u in range(users)])
        conn.execute(insert(Tag), [{"name": k} for k in (*KINDS, "seen live")])
        rows = []
        for i in range(tracks):
            kind = KINDS[i % 3]
            path = write(folder / f"t{i:03d}.wav", render(kind, rng))
            truth[f"track-{i:03d}"] = kind
            rows.append(
                {
                    "external_id": f"track-{i:03d}",
                    "artist": f"artist-{i % 12}",
                    "audio_path": str(path),
                }
            )
        conn.execute(insert(Track), rows)
        assignments = []
        for i in range(tracks - unlabelled):
            kind_tag = KINDS.index(truth[f"track-{i:03d}"]) + 1
            for u in rng.choice(users, size=2, replace=False):
                assignments.append({"user_id": int(u) + 1, "track_id": i + 1, "tag_id": kind_tag})
            assignments.append(
                {"user_id": int(rng.integers(users)) + 1, "track_id": i + 1, "tag_id": 4}
            )
        conn.execute(insert(TagAssignment), assignments)
    return truth


def wav_with_header(path: Path, *, sample_rate: int, channels: int = 1) -> Path:
    """A 16-bit PCM WAV of one second of tone whose header claims `sample_rate` and
    `channels` whatever they are (0 included): a malformed file no writer would make."""
    import struct

    data = (sine(440, 1.0) * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, sample_rate * 2 * channels, 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data))
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data)
    return path
