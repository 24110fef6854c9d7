"""The CNN's genre mode: same folds as evaluate_genres, its result shape, the ensemble."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.tagging.evaluation import GenreScores, genre_folds, genre_scores


def _mels(labels: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """Noise spectrograms whose loud band depends on the label (16 mel bins, 40 frames)."""
    rng = np.random.default_rng(seed)
    bands = {g: 4 * j for j, g in enumerate(sorted(set(labels)))}
    out = []
    for g in labels:
        mel = rng.normal(-60.0, 3.0, size=(16, 40)).astype(np.float32)
        mel[bands[g] : bands[g] + 4] += 40.0
        out.append(mel)
    return out


def test_genre_scores_report_per_genre_confusion_and_probabilities():
    labels = np.array(["a", "a", "b", "b", "c", "c"])
    probs = np.array([[2, 1, 1], [1, 2, 1], [1, 2, 1], [1, 2, 1], [1, 1, 2], [1, 1, 2]], float)
    s = genre_scores("m", labels, probs, [0.5])
    assert s.classes == ["a", "b", "c"] and s.accuracy == pytest.approx(5 / 6)
    assert s.confusion == [[1, 1, 0], [0, 2, 0], [0, 0, 2]]
    assert [g["recall"] for g in s.per_genre] == [0.5, 1.0, 1.0]
    assert np.allclose(np.sum(s.probabilities, axis=1), 1.0)


@pytest.mark.slow  # two trainings and ONNX exports
def test_cnn_genre_mode_and_ensemble():
    torch = pytest.importorskip("torch")

    from recommender.tagging.cnn.genres import ensemble_genres, evaluate_cnn_genres
    from recommender.tagging.cnn.mel import MelConfig
    from recommender.tagging.cnn.model import CNNConfig

    torch.set_num_threads(1)
    labels = np.repeat(["a", "b", "c"], 6)
    groups = np.arange(len(labels)) // 2
    config = CNNConfig(
        mel=MelConfig(n_mels=16, chunk_frames=16),
        channels=(4, 8),
        embedding=8,
        max_epochs=3,
        patience=3,
        chunks_per_track=2,
        batch_size=8,
    )
    result = evaluate_cnn_genres(_mels(labels), labels, folds=2, groups=groups, config=config)
    assert len(result.folds) == 2
    for fold, (train, test) in zip(result.folds, genre_folds(labels, groups, 2, 0), strict=True):
        assert (fold["train_clips"], fold["test_clips"]) == (len(train), len(test))
        assert 1 <= fold["best_epoch"] <= fold["epochs_run"] == len(fold["train_loss"])
        assert len(fold["validation_loss"]) == fold["epochs_run"]
    scores = result.scores
    assert scores.classes == ["a", "b", "c"] and np.shape(scores.probabilities) == (18, 3)
    assert np.sum(scores.confusion) == 18 and result.inference_speed > 0
    flat = GenreScores(
        "flat", 0.0, 0.5, probabilities=np.full((18, 3), 1 / 3).tolist(), classes=["a", "b", "c"]
    )
    both = ensemble_genres(labels, [scores, flat])
    assert np.allclose(both.probabilities, (np.asarray(scores.probabilities) + 1 / 3) / 2)
    with pytest.raises(ValueError, match="probabilities"):
        ensemble_genres(labels, [GenreScores("empty", 0.0, 0.5)])
