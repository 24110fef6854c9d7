"""What differs between tagger kinds when training: their inputs and how they are fitted.

The feature pipeline (linear, mlp, lightgbm) learns from stored song vectors and
frame samples; the CNN learns from log-mel spectrograms decoded from each track's
audio. `train_tagger` runs one protocol (held-out split, metrics, refit, stored
predictions, published bundle) over either recipe, so the protocol exists once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Engine, select

from recommender.audio.config import FeatureConfig
from recommender.core.component import Component
from recommender.errors import AudioDecodeError, InputError
from recommender.services.audio_steps import no_audio_features
from recommender.services.novelty import TrackScores
from recommender.storage.schema import Track
from recommender.tagging.features import CodebookConfig


class Recipe(Protocol):
    track_ids: np.ndarray  # database ids of the tracks with inputs; row i is track_ids[i]
    notes: list[str]

    def describe(self) -> str:
        """JSON of everything that shapes the model (enters the data fingerprint)."""

    def digest(self, rows: np.ndarray) -> bytes:
        """The inputs of `rows`, as bytes for the data fingerprint."""

    def fit(self, rows: np.ndarray, Y: np.ndarray, tags: list[str], *, like=None) -> Component:
        """A model fitted on `rows`; `like` is the held-out run's model, whose choices
        (e.g. the CNN's early-stopped epoch count) the final refit reuses."""

    def predict(self, model: Component, rows: np.ndarray | None = None) -> np.ndarray:
        """Tag probabilities (len(rows), n_tags); every track when rows is None."""

    def embeddings(self, model: Component) -> np.ndarray | None:
        """A learned vector per track (every track), or None when the kind has none."""

    def novelty(self, model: Component) -> TrackScores:
        """How unlike the model's training audio every track is."""


@dataclass
class FeatureRecipe:
    """Song vectors + bag-of-frames histograms -> linear / mlp / lightgbm."""

    track_ids: np.ndarray
    summaries: np.ndarray
    frames: list[np.ndarray]
    config: Any  # PipelineConfig
    notes: list[str]

    def describe(self) -> str:
        return json.dumps(self.config.to_dict(), sort_keys=True)

    def digest(self, rows: np.ndarray) -> bytes:
        return np.ascontiguousarray(self.summaries[rows]).tobytes()

    def fit(self, rows, Y, tags, *, like=None):
        from recommender.tagging.pipeline import TaggerPipeline

        return TaggerPipeline(self.config).fit(
            self.summaries[rows], [self.frames[i] for i in rows], Y, tags
        )

    def predict(self, model, rows=None):
        if rows is None:
            return model.predict(self.summaries, self.frames)
        return model.predict(self.summaries[rows], [self.frames[i] for i in rows])

    def embeddings(self, model) -> None:
        return None

    def novelty(self, model) -> TrackScores:
        return TrackScores.of(model.novelty, model.novelty_scores(self.summaries, self.frames))


@dataclass
class CNNRecipe:
    """Log-mel spectrograms of each track's audio -> the short-chunk CNN."""

    track_ids: np.ndarray
    mels: list[np.ndarray]
    config: Any  # CNNConfig
    notes: list[str]
    _cache: dict = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        return json.dumps({"cnn": self.config.to_dict()}, sort_keys=True)

    def digest(self, rows: np.ndarray) -> bytes:
        # the first 64 frames (1.5 s) identify a recording; all of them would only cost time
        return b"".join(np.ascontiguousarray(self.mels[i][:, :64]).tobytes() for i in rows)

    def fit(self, rows, Y, tags, *, like=None):
        from recommender.tagging.cnn.train import train_cnn  # PyTorch: the `cnn` extra

        config = self.config
        if like is not None:  # the held-out run chose the epochs; train that long on all
            config = config.replace(
                max_epochs=max(1, int(like.training["best_epoch"])), validation_fraction=0.0
            )
        tagger = train_cnn([self.mels[i] for i in rows], Y, tags, config)
        # the detector summarises its training audio as the network and the mel bands see it
        tagger.fit_novelty([self.mels[i] for i in rows], self._outputs(tagger, rows)[1])
        return tagger

    def predict(self, model, rows=None):
        return self._outputs(model, rows)[0]

    def embeddings(self, model) -> np.ndarray:
        return self._outputs(model, None)[1]

    def novelty(self, model) -> TrackScores:
        from recommender.tagging.cnn.model import novelty_inputs

        scores = model.novelty.score(novelty_inputs(self.mels, self.embeddings(model)))
        return TrackScores.of(model.novelty, scores)

    def _outputs(self, model, rows):
        """(probabilities, embeddings) of `rows` (all when None): one network pass serves
        predict, embeddings and novelty of the same model and rows."""
        rows_key = None if rows is None else tuple(int(r) for r in rows)
        if self._cache.get("model") is not model or self._cache.get("rows") != rows_key:
            model.threads = self.config.threads or 1
            mels = self.mels if rows is None else [self.mels[i] for i in rows]
            self._cache = {"model": model, "rows": rows_key, "outputs": model.predict_mels(mels)}
        return self._cache["outputs"]


def feature_recipe(
    engine: Engine,
    kind: str,
    *,
    seed: int,
    feature_config: FeatureConfig | None,
    codebook: CodebookConfig | None,
    tagger_params: dict[str, Any] | None,
) -> FeatureRecipe:
    from recommender.core.registry import Spec
    from recommender.services.audio_features import load_features
    from recommender.tagging.pipeline import PipelineConfig

    config = PipelineConfig(
        tagger=Spec.of(kind, **(tagger_params or {})),
        codebook=codebook or CodebookConfig(),
        features=feature_config or FeatureConfig(),
    ).with_seed(seed)
    stored = load_features(engine, config.features)
    if not len(stored.track_ids):
        raise no_audio_features(engine)
    return FeatureRecipe(stored.track_ids, stored.summaries, stored.frames, config, [])


def cnn_recipe(
    engine: Engine,
    *,
    seed: int,
    tagger_params: dict[str, Any] | None,
    track_ids: np.ndarray | None = None,
) -> CNNRecipe:
    """Spectrograms of every track the audio scan could read (it has a song vector), or of
    those of `track_ids` (database ids)."""
    from recommender.services.audio_features import load_summaries
    from recommender.tagging.cnn.mel import mel_file
    from recommender.tagging.cnn.model import CNNConfig

    try:
        import torch  # noqa: F401
    except ImportError:
        raise InputError(
            "the CNN tagger trains with PyTorch, which is not installed; "
            "run `pip install -e '.[cnn]'` (CPU build torch==2.13.0)"
        ) from None
    config = CNNConfig().replace(**(tagger_params or {})).with_seed(seed)
    scanned = load_summaries(engine)[0] if track_ids is None else np.asarray(track_ids)
    if not len(scanned):
        raise no_audio_features(engine)
    with engine.connect() as conn:  # all paths: an IN list of a big catalogue is too long
        paths = dict(
            conn.execute(
                select(Track.id, Track.audio_path).where(Track.audio_path.is_not(None))
            ).all()
        )
    ids, mels, notes = [], [], []
    for track_id in scanned.tolist():
        try:
            mels.append(mel_file(Path(paths[track_id]), config.mel))
        except AudioDecodeError as exc:  # moved or changed since the scan: leave it out
            notes.append(f"skipped: {exc}")
            continue
        ids.append(track_id)
    return CNNRecipe(np.asarray(ids, dtype=np.int64), mels, config, notes)
