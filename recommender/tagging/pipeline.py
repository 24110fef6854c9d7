"""A trained tagger as one servable bundle: feature config, bag-of-frames codebook, tagger.

The bundle carries its FeatureConfig, so `recsys tag FILE` featurises exactly as the
training catalogue was featurised, and the tag names, per-tag decision thresholds and
the model version under which its predictions were stored. Its `novelty` part
(recommender.tagging.novelty) says how unlike the training audio a clip is; bundles
written before it have none, and then nothing is said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Self

import numpy as np

from recommender.audio.codebook import Codebook
from recommender.audio.config import FeatureConfig
from recommender.audio.frames import frame_dim
from recommender.audio.song_vector import summary_dim
from recommender.core.bundle import Shapes
from recommender.core.component import Component, State, Tagger
from recommender.core.configs import Config
from recommender.core.registry import Spec, create
from recommender.tagging.features import CodebookConfig, fit_codebook, song_matrix
from recommender.tagging.novelty import NoveltyConfig, NoveltyDetector


def _default_tagger() -> Spec:
    from recommender.tagging.perceptron import MLPConfig

    return Spec("mlp", MLPConfig())


@dataclass(frozen=True)
class PipelineConfig(Config):
    tagger: Spec = field(default_factory=_default_tagger)
    codebook: CodebookConfig = field(default_factory=CodebookConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    novelty: NoveltyConfig = field(default_factory=NoveltyConfig)


@dataclass(frozen=True)
class FileTags:
    """One file's tags, most likely first, and how unlike the training audio it is."""

    tags: dict[str, float]
    novelty: float | None  # None: the bundle predates novelty detection
    in_distribution: bool | None


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
        self.novelty: NoveltyDetector | None = None

    def fit(
        self, summaries: np.ndarray, frames: list[np.ndarray], Y: np.ndarray, tags: list[str]
    ) -> Self:
        """Codebook on these tracks' frames, then the tagger on their song vectors and labels Y,
        and the novelty detector on the same song vectors."""
        self.codebook = fit_codebook(frames, self.config.codebook)
        spec = self.config.tagger
        X = self.features(summaries, frames)
        self.tagger = create(spec.name, spec.config).fit(X, Y)
        self.novelty = NoveltyDetector(self.config.novelty).fit(X)
        self.tags = list(tags)
        self.fitted = True
        return self

    def features(self, summaries: np.ndarray, frames: list[np.ndarray]) -> np.ndarray:
        return song_matrix(summaries, frames, self.codebook)

    def predict(self, summaries: np.ndarray, frames: list[np.ndarray]) -> np.ndarray:
        """Tag probabilities (n_tracks, n_tags) from stored song vectors."""
        return self.tagger.predict_proba(self.features(summaries, frames))

    def novelty_scores(self, summaries: np.ndarray, frames: list[np.ndarray]) -> np.ndarray | None:
        """Novelty (n_tracks,) of stored song vectors; None for a bundle without the detector."""
        if self.novelty is None:
            return None
        return self.novelty.score(self.features(summaries, frames))

    def predict_file(self, path: str | Path) -> dict[str, float]:
        """Tag -> probability for one audio file, most likely first (AudioDecodeError if bad)."""
        return self.tag_file(path).tags

    def tag_file(self, path: str | Path) -> FileTags:
        """Tags and novelty of one audio file (AudioDecodeError if it is not audio)."""
        from recommender.audio.song_vector import extract_file

        song = extract_file(path, self.config.features)
        X = self.features(song.summary[None, :], [song.frames])
        probs = self.tagger.predict_proba(X)[0]
        order = np.argsort(-probs, kind="stable")
        tags = {self.tags[j]: float(probs[j]) for j in order}
        if self.novelty is None:
            return FileTags(tags, None, None)
        score = self.novelty.score(X)
        return FileTags(tags, float(score[0]), bool(self.novelty.in_distribution(score)[0]))

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
        parts = {"tagger": self.tagger}
        if self.novelty is not None:
            parts["novelty"] = self.novelty
        return State(arrays=arrays, meta=meta, parts=parts)

    def _restore(self, state: State) -> None:

        features = self.config.features
        book = Shapes(state.arrays, frame=frame_dim(features))
        self.codebook = Codebook.from_arrays(book, "codebook_") if state.arrays else None
        self.tagger = state.parts["tagger"]
        self.novelty = state.parts.get("novelty")  # absent from bundles written before it
        self.tags = list(state.meta["tags"])
        if self.tagger.n_tags != len(self.tags):
            raise ValueError(
                f"{len(self.tags)} tag names for a tagger of {self.tagger.n_tags} tags"
            )
        width = summary_dim(features) + (0 if self.codebook is None else self.codebook.k)
        if self.novelty is not None and len(self.novelty.mean_) != width:
            raise ValueError(
                f"the novelty detector reads {len(self.novelty.mean_)} features; the song vectors"
                f" of this feature config and codebook have {width}"
            )
        self.thresholds = {str(k): float(v) for k, v in state.meta["thresholds"].items()}
        self.model_version = str(state.meta["model_version"])
