"""Tag audio files with the current tagger: what `recsys tag` and the server's /tag run.

Serving only: nothing here reaches training code, so tagging needs no PyTorch even
when the current tagger is the CNN (it runs on ONNX Runtime).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recommender.errors import AudioDecodeError

if TYPE_CHECKING:
    from recommender.tagging.cnn.model import CNNTagger
    from recommender.tagging.pipeline import TaggerPipeline


@dataclass
class TaggedFiles:
    model_version: str
    results: list[dict[str, Any]]  # {"file", "tags": [{"tag", "probability", "predicted"}]}
    failures: list[AudioDecodeError]  # files that could not be decoded, in order


def tag_files(models_dir: Path, files: list[Path], *, top: int = 5) -> TaggedFiles:
    """The current tagger's `top` tags for each file; undecodable files are collected, not
    raised, so the others are still tagged."""
    from recommender.services.bundles import current_tagger

    pipeline = current_tagger(models_dir)
    results, failures = [], []
    for file in files:
        try:
            tags = tag_file(pipeline, file, top=top)
        except AudioDecodeError as exc:
            failures.append(exc)
            continue
        results.append({"file": str(file), "tags": tags})
    return TaggedFiles(pipeline.model_version, results, failures)


def tag_file(
    pipeline: TaggerPipeline | CNNTagger, path: Path, *, top: int = 5
) -> list[dict[str, Any]]:
    """The `top` most likely tags of one audio file, each with its probability and whether
    it passes the tag's threshold (AudioDecodeError for a file that is not audio)."""
    probs = pipeline.predict_file(path)
    return [
        {
            "tag": tag,
            "probability": round(p, 4),
            "predicted": p >= pipeline.thresholds.get(tag, 0.5),
        }
        for tag, p in list(probs.items())[:top]
    ]
