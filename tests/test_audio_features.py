"""Frame features and song vectors on synthetic signals whose right answers are known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recommender.audio.codebook import Codebook
from recommender.audio.config import FeatureConfig
from recommender.audio.frames import compute_frames, frame_dim
from recommender.audio.song_vector import extract_file, song_features, summary_dim, summary_names
from recommender.core.bundle import Shapes
from recommender.errors import AudioDecodeError, InputError
from tests.audio_signals import click_train, sine, white_noise, write

CONFIG = FeatureConfig()
NAMES = summary_names(CONFIG)


def _block(vector: np.ndarray, prefix: str, suffix: str) -> np.ndarray:
    return vector[[i for i, n in enumerate(NAMES) if n.startswith(prefix) and n.endswith(suffix)]]


def test_config_round_trip_and_version():
    config = FeatureConfig(duration=10.0, n_mfcc=13)
    assert FeatureConfig.from_json(config.to_json()) == config
    assert config.extractor_version != FeatureConfig().extractor_version
    assert FeatureConfig().extractor_version == FeatureConfig().extractor_version
    assert config.frames_version.startswith(config.extractor_version)
    assert len(config.frames_version) <= 64
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.sr = 1  # type: ignore[misc]
    with pytest.raises(InputError, match="unknown parameter.*bogus"):
        FeatureConfig.from_dict({"sr": 22050, "bogus": 1})
    with pytest.raises(InputError):
        FeatureConfig(duration=-1.0)


def test_shapes_and_names():
    y = sine(440, 4.0)
    frames = compute_frames(y, CONFIG)
    assert frames.mfcc.shape[0] == CONFIG.n_mfcc and frames.delta.shape == frames.mfcc.shape
    assert frames.chroma.shape == (12, frames.n_frames)
    assert frames.contrast.shape == (CONFIG.n_contrast_bands + 1, frames.n_frames)
    assert frames.frame_matrix().shape == (frames.n_frames, frame_dim(CONFIG))
    song = song_features(y, CONFIG)
    assert song.summary.shape == (summary_dim(CONFIG),) and song.summary.dtype == np.float32
    assert song.frames.shape == (CONFIG.frame_sample, frame_dim(CONFIG))
    assert np.isfinite(song.summary).all() and np.isfinite(song.frames).all()
    assert song.seconds == pytest.approx(4.0)


def test_deterministic():
    y = white_noise(3.0, seed=3)
    a, b = song_features(y, CONFIG), song_features(y.copy(), CONFIG)
    np.testing.assert_array_equal(a.summary, b.summary)
    np.testing.assert_array_equal(a.frames, b.frames)


def test_very_short_clip_still_has_features():
    song = song_features(sine(440, 0.05), CONFIG)
    assert np.isfinite(song.summary).all() and song.frames.shape[0] >= 1


@pytest.mark.parametrize("bpm", [90, 100, 120, 140])
def test_tempo_of_a_click_train(bpm):
    song = song_features(click_train(bpm, 10.0), CONFIG)
    assert song.summary[NAMES.index("tempo_bpm")] == pytest.approx(bpm, rel=0.04)


def test_pitch_class_and_register():
    # Chroma finds the note name; the spectral-contrast band with the strongest peak, the octave.
    peaks = []
    for freq in (110.0, 440.0, 1760.0):
        summary = song_features(sine(freq, 3.0), CONFIG).summary
        chroma = _block(summary, "chroma", "_mean")
        assert int(np.argmax(chroma)) == 9  # A
        assert chroma.max() > 3 * chroma.mean()
        peaks.append(int(np.argmax(_block(summary, "contrast", "_mean"))))
    assert peaks[0] < peaks[1] < peaks[2]


def test_sine_noise_and_clicks_are_told_apart():
    tone = song_features(sine(440, 3.0), CONFIG).summary
    noise = song_features(white_noise(3.0), CONFIG).summary
    clicks = song_features(click_train(120, 3.0), CONFIG).summary
    # a pure tone has a peaked spectrum, noise a flat one
    assert _block(tone, "contrast", "_mean").max() > 2 * _block(noise, "contrast", "_mean").max()
    assert _block(noise, "chroma", "_mean").max() < 1.3 * _block(noise, "chroma", "_mean").mean()
    # clicks are all onsets: bursty onset strength; steady noise is not
    onset_cv = lambda s: s[NAMES.index("onset_std")] / s[NAMES.index("onset_mean")]  # noqa: E731
    assert onset_cv(clicks) > 3 * onset_cv(noise)


def test_extract_file_uses_the_analysis_window(tmp_path):
    path = write(tmp_path / "long.wav", np.concatenate([sine(220, 3.0), white_noise(3.0)]))
    head = extract_file(path, FeatureConfig(duration=2.0))
    tail = extract_file(path, FeatureConfig(offset=3.5, duration=2.0))
    assert head.seconds == pytest.approx(2.0) and tail.seconds == pytest.approx(2.0)
    assert int(np.argmax(_block(head.summary, "chroma", "_mean"))) == 9
    assert (
        _block(tail.summary, "chroma", "_mean").max()
        < 1.3 * _block(tail.summary, "chroma", "_mean").mean()
    )
    with pytest.raises(AudioDecodeError, match="missing.wav"):
        extract_file(tmp_path / "missing.wav")


def test_codebook_separates_frame_kinds_and_round_trips(tmp_path):
    tone = song_features(sine(440, 3.0), CONFIG).frames
    noise = song_features(white_noise(3.0), CONFIG).frames
    book = Codebook.fit([tone, noise], k=2, pca_components=8, seed=0)
    h_tone, h_noise = book.histogram(tone), book.histogram(noise)
    assert h_tone.sum() == pytest.approx(1.0) and h_noise.sum() == pytest.approx(1.0)
    assert h_tone.max() > 0.9 and h_noise.max() > 0.9
    assert np.argmax(h_tone) != np.argmax(h_noise)
    loaded = Codebook.from_arrays(Shapes(book.arrays()))
    np.testing.assert_array_equal(loaded.assign(tone), book.assign(tone))
    assert book.histograms([]).shape == (0, 2)
    again = Codebook.fit([tone, noise], k=2, pca_components=8, seed=0)
    np.testing.assert_allclose(again.centroids, book.centroids)
