"""A trained tagger as one servable bundle: feature config, bag-of-frames codebook, tagger.

The bundle carries its FeatureConfig, so `recsys tag FILE` featurises exactly as the
training catalogue was featurised, and the tag names, per-tag decision thresholds and
the model version under which its predictions were stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Self

import numpy as np

from recommender.audio.codebook import Codebook
from recommender.audio.config import FeatureConfig
from recommender.core.component import Component, State, Tagger
from recommender.core.configs import Config
from recommender.core.registry import Spec, create
from recommender.tagging.features import CodebookConfig, fit_codebook, song_matrix


def _default_tagger() -> Spec:
    from recommender.tagging.perceptron import MLPConfig

    return Spec("mlp", MLPConfig())


@dataclass(frozen=True)
class PipelineConfig(Config):
    tagger: Spec = field(default_factory=_default_tagger)
    codebook: CodebookConfig = field(default_factory=CodebookConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)


class TaggerPipeline(Component):
    name: ClassVar[str] = "tagger-pipeline"
    Config: ClassVar[type[Config]] = PipelineConfig

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.codebook: Codebook | None = None
        self.tagger: Tagger | None = None
        self.tags: list[str] = []
        self.thresholds: dict[str, float] = {}
        self.model_version = ""

    def fit(
        self, summaries: np.ndarray, frames: list[np.ndarray], Y: np.ndarray, tags: list[str]
    ) -> Self:
        """Codebook on these tracks' frames, then the tagger on their song vectors and labels Y."""
        self.codebook = fit_codebook(frames, self.config.codebook)
        spec = self.config.tagger
        self.tagger = create(spec.name, spec.config).fit(self.features(summaries, frames), Y)
        self.tags = list(tags)
        self.fitted = True
        return self

    def features(self, summaries: np.ndarray, frames: list[np.ndarray]) -> np.ndarray:
        return song_matrix(summaries, frames, self.codebook)

    def predict(self, summaries: np.ndarray, frames: list[np.ndarray]) -> np.ndarray:
        """Tag probabilities (n_tracks, n_tags) from stored song vectors."""
        return self.tagger.predict_proba(self.features(summaries, frames))

    def predict_file(self, path: str | Path) -> dict[str, float]:
        """Tag -> probability for one audio file, most likely first (AudioDecodeError if bad)."""
        from recommender.audio.song_vector import extract_file

        song = extract_file(path, self.config.features)
        probs = self.predict(song.summary[None, :], [song.frames])[0]
        order = np.argsort(-probs, kind="stable")
        return {self.tags[j]: float(probs[j]) for j in order}

    def _state(self) -> State:
        arrays = (
            {}
            if self.codebook is None
            else {f"codebook_{k}": v for k, v in self.codebook.arrays().items()}
        )
        meta = {
            "tags": self.tags,
            "thresholds": self.thresholds,
            "model_version": self.model_version,
        }
        return State(arrays=arrays, meta=meta, parts={"tagger": self.tagger})

    def _restore(self, state: State) -> None:
        book = {k.removeprefix("codebook_"): v for k, v in state.arrays.items()}
        self.codebook = Codebook.from_arrays(book) if book else None
        self.tagger = state.parts["tagger"]
        self.tags = list(state.meta["tags"])
        self.thresholds = {str(k): float(v) for k, v in state.meta["thresholds"].items()}
        self.model_version = str(state.meta["model_version"])
