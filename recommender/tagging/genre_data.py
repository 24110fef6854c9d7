"""Genre-labelled clip collections: a `genre/file` folder tree or a `path,label` CSV.

Used by the genre evaluation mode (e.g. ../shared/data/gtzan-mini).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.audio.config import FeatureConfig
from recommender.errors import DataFileError

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".au", ".aiff", ".aif"}


@dataclass(frozen=True)
class GenreClips:
    paths: list[Path]
    labels: list[str]


def read_genre_clips(source: Path) -> GenreClips:
    """Clips and labels from a CSV (`path,label` or `path,genre`, paths relative to it) or a folder.

    A folder with a labels.csv uses it; otherwise each sub-folder name is the label of its files.
    """
    import pandas as pd

    source = Path(source)
    if source.is_dir() and (source / "labels.csv").is_file():
        source = source / "labels.csv"
    if source.is_file():
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
        frame.columns = [c.strip().lower() for c in frame.columns]
        label_column = "label" if "label" in frame.columns else "genre"
        if "path" not in frame.columns or label_column not in frame.columns:
            raise DataFileError(
                f"{source}: needs columns path,label (or path,genre); found {list(frame.columns)}"
            )
        paths = [source.parent / p for p in frame["path"]]
        return GenreClips(paths, list(frame[label_column]))
    if not source.is_dir():
        raise DataFileError(f"{source}: no such folder or label CSV")
    paths, labels = [], []
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() in AUDIO_SUFFIXES:
                paths.append(file)
                labels.append(folder.name)
    if not paths:
        raise DataFileError(f"{source}: no audio files in genre sub-folders")
    return GenreClips(paths, labels)


def featurise_clips(
    paths: list[Path],
    config: FeatureConfig,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[np.ndarray], list[str]]:
    """(summaries, frame samples, errors) for clips; an undecodable clip is an error, no crash."""
    from recommender.audio.batch import extract_many

    results = extract_many(paths, config, workers=workers, progress=progress)
    errors = [str(r) for r in results if isinstance(r, Exception)]
    good = [r for r in results if not isinstance(r, Exception)]
    summaries = np.vstack([r.summary for r in good]) if good else np.zeros((0, 0), np.float32)
    return summaries, [r.frames for r in good], errors
