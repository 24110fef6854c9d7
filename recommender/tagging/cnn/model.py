"""The trained CNN tagger as a bundle component: ONNX network, tags, thresholds, config.

It answers the same questions as the feature pipeline (`predict_file`, `tags`,
`thresholds`, `model_version`) so `recsys tag`, the server and the stored
predictions treat both alike, and adds `embed`: the penultimate layer averaged over
a track's chunks, a learned description of its sound for similarity and cold start.
Training is in `train` (PyTorch); this module never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from recommender.core.component import Component, State
from recommender.core.configs import Config
from recommender.tagging.cnn.mel import MelConfig, mel_file, track_chunks
from recommender.tagging.novelty import NoveltyConfig, NoveltyDetector
from recommender.tagging.pipeline import FileTags

NETWORK = "network.onnx"


@dataclass(frozen=True)
class CNNConfig(Config):
    """Network shape and training schedule; see network.py for why this shape."""

    mel: MelConfig = field(default_factory=MelConfig)
    channels: tuple[int, ...] = (8, 16, 32, 32, 64)
    embedding: int = 64
    dropout: float = 0.3
    max_epochs: int = 60
    patience: int = 10  # epochs without a better validation loss before stopping
    batch_size: int = 32
    chunks_per_track: int = 2  # random crops of each training track per epoch
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    validation_fraction: float = 0.15  # of training tracks; 0 = train max_epochs, no stopping
    gain_db: float = 6.0  # random gain, +-dB
    freq_mask: int = 8  # SpecAugment: widest masked band of mel bins
    time_mask: int = 16  # SpecAugment: widest masked span of frames
    novelty: NoveltyConfig = field(default_factory=NoveltyConfig)  # on the embeddings
    threads: int = 1  # PyTorch threads while training (0 = all cores; more threads spin
    # against each other on a busy machine: 2 threads ran 5x slower than 1 on 2 cores)
    seed: int = 0


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def novelty_inputs(mels: list[np.ndarray], embeddings: np.ndarray) -> np.ndarray:
    """What the novelty detector sees of each track: its embedding beside the mean and spread
    of each mel band. The embedding alone does not do: a network trained to tell tags apart
    maps speech onto the tags it knows (demo CNN: LibriSpeech scored 5-7 against a threshold
    of 10.9, i.e. typical), while the band profile puts it at 33-45 against 21."""
    profile = np.stack([np.concatenate([m.mean(axis=1), m.std(axis=1)]) for m in mels])
    return np.hstack([np.asarray(embeddings, dtype=np.float64), profile])


class CNNTagger(Component):
    name: ClassVar[str] = "cnn"
    Config: ClassVar[type[Config]] = CNNConfig

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.network_bytes = b""
        self.tags: list[str] = []
        self.thresholds: dict[str, float] = {}
        self.model_version = ""
        self.training: dict[str, Any] = {}  # epochs, best epoch, loss curves
        self.novelty: NoveltyDetector | None = None  # on embeddings; see fit_novelty
        self.threads = 1

    @cached_property
    def network(self):
        from recommender.tagging.cnn.runtime import OnnxNetwork

        return OnnxNetwork(self.network_bytes, threads=self.threads)

    def predict_mels(self, mels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (n_tracks, n_tags), embeddings (n_tracks, dim)) of spectrograms:
        the mean over each track's chunks."""
        chunks = [track_chunks(m, self.config.mel.chunk_frames) for m in mels]
        if not chunks:
            return np.zeros((0, len(self.tags))), np.zeros((0, self.config.embedding))
        logits, embeddings = self.network.run(np.concatenate(chunks))
        starts = np.cumsum([0] + [len(c) for c in chunks[:-1]])
        probs = sigmoid(logits.astype(np.float64))
        return (
            np.add.reduceat(probs, starts, axis=0) / np.array([len(c) for c in chunks])[:, None],
            np.add.reduceat(embeddings, starts, axis=0)
            / np.array([len(c) for c in chunks], dtype=np.float32)[:, None],
        )

    def fit_novelty(self, mels: list[np.ndarray], embeddings: np.ndarray) -> None:
        """Summarise the training tracks (`novelty_inputs`): a clip far from them is audio the
        network never learned from (same detector and calibration as the feature taggers)."""
        self.novelty = NoveltyDetector(self.config.novelty).fit(novelty_inputs(mels, embeddings))

    def predict_file(self, path: str | Path) -> dict[str, float]:
        """Tag -> probability for one audio file, most likely first (AudioDecodeError if bad)."""
        return self.tag_file(path).tags

    def tag_file(self, path: str | Path) -> FileTags:
        """Tags and novelty of one audio file (AudioDecodeError if it is not audio)."""
        mel = mel_file(path, self.config.mel)
        probs, embedding = self.predict_mels([mel])
        order = np.argsort(-probs[0], kind="stable")
        tags = {self.tags[j]: float(probs[0, j]) for j in order}
        if self.novelty is None:
            return FileTags(tags, None, None)
        score = self.novelty.score(novelty_inputs([mel], embedding))
        return FileTags(tags, float(score[0]), bool(self.novelty.in_distribution(score)[0]))

    def _state(self) -> State:
        meta = {
            "tags": self.tags,
            "thresholds": self.thresholds,
            "model_version": self.model_version,
            "training": self.training,
        }
        parts = {} if self.novelty is None else {"novelty": self.novelty}
        return State(meta=meta, blobs={NETWORK: self.network_bytes}, parts=parts)

    def _restore(self, state: State) -> None:
        self.network_bytes = state.blobs[NETWORK]
        self.tags = list(state.meta["tags"])
        self.thresholds = {str(k): float(v) for k, v in state.meta["thresholds"].items()}
        self.model_version = str(state.meta["model_version"])
        self.training = dict(state.meta.get("training", {}))
        self.novelty = state.parts.get("novelty")
