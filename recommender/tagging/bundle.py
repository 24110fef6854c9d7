"""A trained tagger on disk: manifest.json + codebook.npz + the tagger's arrays or LightGBM text.

The bundle carries its FeatureConfig, so `recsys tag FILE` featurises exactly
as the training catalogue was featurised. Writes go to a temporary sibling
directory that is renamed into place, so a reader never sees half a bundle.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recommender.audio.codebook import Codebook
from recommender.audio.config import FeatureConfig
from recommender.errors import ModelBundleError
from recommender.tagging.base import Tagger, tagger_class
from recommender.tagging.features import song_matrix

FORMAT = 1


@dataclass
class TaggerBundle:
    feature_config: FeatureConfig
    codebook: Codebook | None
    tagger: Tagger
    tags: list[str]
    model_version: str
    manifest: dict[str, Any] = field(default_factory=dict)  # metrics, labels, thresholds, ...

    def features(self, summaries: np.ndarray, frames: list[np.ndarray]) -> np.ndarray:
        return song_matrix(summaries, frames, self.codebook)

    def predict(self, summaries: np.ndarray, frames: list[np.ndarray]) -> np.ndarray:
        """Tag probabilities (n_tracks, n_tags) from stored song vectors."""
        return self.tagger.predict_proba(self.features(summaries, frames))

    def predict_file(self, path: str | Path) -> dict[str, float]:
        """Tag → probability for one audio file, most likely first (AudioDecodeError if bad)."""
        from recommender.audio.song_vector import extract_file

        song = extract_file(path, self.feature_config)
        probs = self.predict(song.summary[None, :], [song.frames])[0]
        order = np.argsort(-probs, kind="stable")
        return {self.tags[j]: float(probs[j]) for j in order}

    def save(self, model_dir: Path) -> None:
        model_dir = Path(model_dir)
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = model_dir.parent / f".{model_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            if self.codebook is not None:
                self.codebook.save(tmp / "codebook.npz")
            self.tagger.save(tmp)
            manifest = dict(self.manifest) | {
                "format": FORMAT,
                "kind": self.tagger.kind,
                "params": self.tagger.params(),
                "model_version": self.model_version,
                "feature_config": self.feature_config.to_dict(),
                "extractor_version": self.feature_config.extractor_version,
                "codebook": self.codebook is not None,
                "tags": self.tags,
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
            old = None
            if model_dir.exists():
                old = model_dir.parent / f".{model_dir.name}.old-{uuid.uuid4().hex[:8]}"
                model_dir.rename(old)
            tmp.rename(model_dir)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, model_dir: Path) -> TaggerBundle:
        model_dir = Path(model_dir)
        path = model_dir / "manifest.json"
        if not path.is_file():
            raise ModelBundleError(
                f"no trained tagger at {model_dir}; run `recsys train tagger` first"
            )
        try:
            manifest = json.loads(path.read_text())
            if manifest.get("format") != FORMAT:
                raise ModelBundleError(
                    f"{path}: bundle format {manifest.get('format')!r}, expected {FORMAT}; "
                    "retrain the tagger"
                )
            config = FeatureConfig.from_dict(manifest["feature_config"])
            kind, params, tags = manifest["kind"], manifest["params"], list(manifest["tags"])
            version = manifest["model_version"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelBundleError(
                f"{path}: incomplete or corrupt manifest ({exc}); retrain the tagger"
            ) from None
        codebook = Codebook.load(model_dir / "codebook.npz") if manifest.get("codebook") else None
        tagger = tagger_class(kind).load(model_dir, params)
        return cls(config, codebook, tagger, tags, version, manifest)
