"""Tag audio files with the current tagger: what `recsys tag` and the server's /tag run.

Serving only: nothing here reaches training code, so tagging needs no PyTorch even
when the current tagger is the CNN (it runs on ONNX Runtime).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recommender.errors import AudioDecodeError, ModelBundleError

if TYPE_CHECKING:
    from recommender.services.settings import Settings
    from recommender.tagging.cnn.model import CNNTagger
    from recommender.tagging.pipeline import TaggerPipeline


@dataclass
class TaggedFiles:
    model_version: str
    # {"file", "tags": [{"tag", "probability", "predicted"}], "novelty", "in_distribution"}
    results: list[dict[str, Any]]
    failures: list[AudioDecodeError]  # files that could not be decoded, in order
    novelty_threshold: float | None = None  # None: a tagger from before novelty detection


def tag_files(settings: Settings, files: list[Path], *, top: int = 5) -> TaggedFiles:
    """The current tagger's `top` tags for each file; undecodable files (missing, not a
    regular file, over the byte cap, malformed) are collected, not raised, so the others
    are still tagged. Without a tagger, the error says how to get one from what the
    database holds."""
    from recommender.audio.files import max_audio_bytes
    from recommender.services.audio_steps import steps_to_a_tagger
    from recommender.services.bundles import TAGGER, current_tagger, has_current, kind_dir

    max_audio_bytes()  # a bad RECSYS_AUDIO_MAX_BYTES is one error, not one per file
    if not has_current(settings.models_dir, TAGGER):
        folder = kind_dir(settings.models_dir, TAGGER)
        engine = settings.engine()
        try:
            raise ModelBundleError(f"no trained tagger in {folder}; {steps_to_a_tagger(engine)}")
        finally:
            engine.dispose()
    pipeline = current_tagger(settings.models_dir)
    results, failures = [], []
    for file in files:
        try:
            tagged = tag_file(pipeline, file, top=top)
        except AudioDecodeError as exc:
            failures.append(exc)
            continue
        results.append({"file": str(file), **tagged})
    threshold = None if pipeline.novelty is None else round(pipeline.novelty.threshold, 4)
    return TaggedFiles(pipeline.model_version, results, failures, threshold)


def tag_file(pipeline: TaggerPipeline | CNNTagger, path: Path, *, top: int = 5) -> dict[str, Any]:
    """The `top` most likely tags of one audio file, each with its probability and whether
    it passes the tag's threshold, and the file's novelty and whether it is within the
    tagger's training distribution (both None for a tagger from before novelty detection);
    AudioDecodeError for a file that is not audio."""
    result = pipeline.tag_file(path)
    tags = [
        {
            "tag": tag,
            "probability": round(p, 4),
            "predicted": p >= pipeline.thresholds.get(tag, 0.5),
        }
        for tag, p in list(result.tags.items())[:top]
    ]
    novelty = None if result.novelty is None else round(result.novelty, 4)
    return {"tags": tags, "novelty": novelty, "in_distribution": result.in_distribution}
