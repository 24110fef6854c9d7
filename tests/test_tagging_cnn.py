"""The CNN tagger: it learns the demo's audible tags, ONNX Runtime answers as PyTorch does,
and nothing on the serving path imports PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from recommender.errors import ModelBundleError
from recommender.tagging.cnn.mel import MelConfig, chunk_starts, log_mel, track_chunks
from recommender.tagging.cnn.model import CNNConfig, CNNTagger
from tests.audio_signals import sine, write
from tests.conftest import run_cli

torch = pytest.importorskip("torch", reason="the cnn extra (torch==2.13.0) trains the CNN")

# Small enough to train in seconds on one core; the shape is the default's.
TINY = CNNConfig(channels=(4, 8, 8, 16), embedding=16, max_epochs=2, validation_fraction=0.0)


def test_chunks_cover_the_whole_spectrogram():
    assert chunk_starts(100, 128).tolist() == [0]  # shorter than a chunk: one, padded
    assert chunk_starts(128, 128).tolist() == [0]
    assert chunk_starts(259, 128).tolist() == [0, 66, 131]  # last chunk ends at the end
    assert chunk_starts(384, 128).tolist() == [0, 128, 256]  # exact multiple: no overlap
    mel = np.arange(6 * 100, dtype=np.float32).reshape(6, 100)
    chunks = track_chunks(mel, 128)
    assert chunks.shape == (1, 6, 128)
    assert np.array_equal(chunks[0, :, :100], mel)
    assert np.all(chunks[0, :, 100:] == mel.min())  # padded with the clip's own floor


def test_log_mel_puts_a_tone_in_its_band():
    config = MelConfig()
    mel = log_mel(sine(1000.0, 2.0), config)
    assert mel.shape == (config.n_mels, 87)  # 1 + 2 s * 22,050 / 512 frames
    import librosa

    centres = librosa.mel_frequencies(n_mels=config.n_mels + 2, fmax=config.fmax)[1:-1]
    assert abs(centres[int(np.argmax(mel.mean(axis=1)))] - 1000.0) < 120.0


def _tiny_data(seed: int = 0, n: int = 12) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    mels = [rng.normal(-40, 10, (64, 150)).astype(np.float32) for _ in range(n)]
    Y = (rng.random((n, 3)) < 0.5).astype(np.float32)
    return mels, Y


def test_onnx_runtime_equals_pytorch_after_a_bundle_round_trip(tmp_path):
    from recommender.tagging.cnn.train import eager_outputs, export_onnx, fit_network

    mels, Y = _tiny_data()
    fitted = fit_network(mels, Y, TINY)
    tagger = CNNTagger(TINY)
    tagger.network_bytes = export_onnx(fitted.network, TINY)
    tagger.tags = ["a", "b", "c"]
    tagger.fitted = True
    loaded = CNNTagger.load(tagger.save(tmp_path / "cnn"))

    chunks = np.concatenate([track_chunks(m, TINY.mel.chunk_frames) for m in mels])
    eager_logits, eager_embedding = eager_outputs(fitted.network, chunks)
    onnx_logits, onnx_embedding = loaded.network.run(chunks)
    assert onnx_logits.shape == (len(chunks), 3) and onnx_embedding.shape == (len(chunks), 16)
    np.testing.assert_allclose(onnx_logits, eager_logits, atol=1e-4, rtol=0)
    np.testing.assert_allclose(onnx_embedding, eager_embedding, atol=1e-4, rtol=0)

    probs, embeddings = loaded.predict_mels(mels[:2])  # track level: the mean of its chunks
    first = track_chunks(mels[0], TINY.mel.chunk_frames)
    expected = 1.0 / (1.0 + np.exp(-eager_outputs(fitted.network, first)[0].astype(np.float64)))
    np.testing.assert_allclose(probs[0], expected.mean(axis=0), atol=1e-5)
    assert probs.shape == (2, 3) and embeddings.shape == (2, 16)


def test_training_is_seeded():
    from recommender.tagging.cnn.train import fit_network

    mels, Y = _tiny_data()
    weights = [
        fit_network(mels, Y, TINY.replace(seed=seed)).network.state_dict() for seed in (3, 3, 4)
    ]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_early_stopping_keeps_the_best_epoch():
    from recommender.tagging.cnn.train import fit_network

    mels, Y = _tiny_data(n=20)
    config = TINY.replace(max_epochs=30, patience=3, validation_fraction=0.25)
    training = fit_network(mels, Y, config).training
    curve = training["validation_loss"]
    assert training["validation_tracks"] == 5 and training["train_tracks"] == 15
    assert len(curve) == training["epochs_run"] <= 30
    assert curve[training["best_epoch"] - 1] == min(curve)
    if training["epochs_run"] < 30:  # stopped: `patience` epochs without a better loss
        assert training["epochs_run"] - training["best_epoch"] == 3


def test_a_network_that_is_not_onnx_is_a_bundle_error(tmp_path):
    tagger = CNNTagger(TINY)
    tagger.network_bytes = b"not an onnx graph"
    tagger.tags = ["a"]
    tagger.fitted = True
    loaded = CNNTagger.load(tagger.save(tmp_path / "cnn"))  # checksums fine, content not
    with pytest.raises(ModelBundleError, match="does not load in ONNX Runtime"):
        loaded.predict_mels([np.zeros((64, 10), np.float32)])


@pytest.fixture(scope="module")
def demo_cnn(tmp_path_factory):
    """The demo catalogue (80 users, 150 tracks of 4 s) with a CNN tagger trained on it."""
    from etl.audio_scan import scan_catalogue
    from etl.demo import load_demo
    from recommender.services.tagger_training import train_tagger
    from recommender.storage.engine import make_engine

    home = tmp_path_factory.mktemp("cnn-home")
    url = f"sqlite:///{home / 'recsys.db'}"
    engine = make_engine(url)
    load_demo(engine, home, users=80, tracks=150, seed=0, clip_seconds=4.0, workers=2)
    assert scan_catalogue(engine, workers=2).extracted == 150
    report = train_tagger(
        engine,
        home / "models",
        kind="cnn",
        seed=0,
        tagger_params={"max_epochs": 25, "patience": 6},
    )
    yield engine, home, url, report
    engine.dispose()


@pytest.mark.slow
def test_cnn_beats_popularity_on_held_out_demo_tracks(demo_cnn):
    from recommender.services.audio_features import embedding_version
    from recommender.storage.schema import PredictedTag, TrackFeatures

    engine, _, _, report = demo_cnn
    held, base = report.held_out, report.baseline
    assert report.kind == "cnn" and report.test_tracks >= 15 and len(report.tags) >= 8
    assert base["macro_roc_auc"] == pytest.approx(0.5)
    assert held["macro_roc_auc"] > 0.75, held
    assert held["macro_pr_auc"] > base["macro_pr_auc"] + 0.2
    assert report.predicted_tracks == 150  # cold tracks included
    with engine.connect() as conn:
        predicted = conn.scalar(
            select(func.count())
            .select_from(PredictedTag)
            .where(PredictedTag.model_version == report.model_version)
        )
        dims = conn.execute(
            select(TrackFeatures.dim, func.count())
            .where(TrackFeatures.extractor_version == embedding_version(report.model_version))
            .group_by(TrackFeatures.dim)
        ).all()
    assert predicted == 150 * len(report.tags)
    assert dims == [(CNNConfig().embedding, 150)]  # one embedding per track, beside its tags


@pytest.mark.slow
def test_tag_with_the_cnn_imports_no_torch(demo_cnn, tmp_path):
    """`recsys tag`, the server's tagging and the bundle reader run on ONNX Runtime only."""
    _, home, url, report = demo_cnn
    clip = write(tmp_path / "tone.wav", sine(440.0, 5.0))
    env = {"RECSYS_HOME": str(home), "RECSYS_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    tagged = run_cli(["tag", str(clip), "--json"], env)
    assert tagged.returncode == 0, tagged.stderr
    out = json.loads(tagged.stdout)
    assert out["model_version"] == report.model_version
    assert len(out["results"][0]["tags"]) == 5

    script = f"""
import sys
from pathlib import Path
import recommender.server.app, recommender.cli.app
from recommender.services.bundles import current_tagger
from recommender.services.taggers import tag_file
tagger = current_tagger(Path({str(home / "models")!r}))
print(tag_file(tagger, Path({str(clip)!r}), top=2))
print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    tags_line, modules_line = done.stdout.strip().splitlines()[-2:]
    assert modules_line == "[]"
    assert tags_line.startswith("{'tags': [{'tag': ")


@pytest.mark.slow
def test_cnn_predictions_through_the_cli_match_the_stored_ones(demo_cnn, tmp_path):
    """The served bundle and the rows stored at training are the same model."""
    from recommender.services.bundles import current_tagger
    from recommender.storage.schema import PredictedTag, Tag, Track

    engine, home, _, report = demo_cnn
    tagger = current_tagger(home / "models")
    with engine.connect() as conn:
        path = conn.scalar(select(Track.audio_path).where(Track.external_id == "track-0001"))
        stored = dict(
            conn.execute(
                select(Tag.name, PredictedTag.probability)
                .join(Tag, Tag.id == PredictedTag.tag_id)
                .join(Track, Track.id == PredictedTag.track_id)
                .where(
                    Track.external_id == "track-0001",
                    PredictedTag.model_version == report.model_version,
                )
            ).all()
        )
    served = tagger.predict_file(Path(path))
    assert set(served) == set(stored)
    for tag, probability in served.items():
        assert probability == pytest.approx(stored[tag], abs=1e-5)


@pytest.mark.slow
@pytest.mark.shared_data
def test_the_cnn_flags_speech_and_birdsong_but_not_demo_clips(demo_cnn):
    """Novelty on the CNN's embeddings: unlike music it never heard, like the demo's own."""
    from recommender.services.bundles import current_tagger
    from recommender.storage.schema import TrackNovelty
    from tests.conftest import shared_data

    engine, home, _, report = demo_cnn
    tagger = current_tagger(home / "models")
    examples = shared_data("librosa-examples")
    index = json.loads((examples / "index.json").read_text())
    for key in ("libri1", "libri2", "libri3", "robin"):
        result = tagger.tag_file(examples / f"{index[key]['path']}.ogg")
        assert result.in_distribution is False, (key, result.novelty, tagger.novelty.threshold)
    with engine.connect() as conn:
        flags = (
            conn.execute(
                select(TrackNovelty.in_distribution).where(
                    TrackNovelty.model_version == report.model_version
                )
            )
            .scalars()
            .all()
        )
    assert len(flags) == 150 and sum(flags) >= 0.95 * 150


@pytest.mark.slow
def test_similar_for_a_cold_track_finds_tracks_that_sound_alike(demo_cnn):
    """Cold tracks have no plays: `similar` ranks by the CNN embeddings stored beside the
    predicted tags, and its neighbours share the track's genre far more often than chance."""
    from recommender.hybrid.recommender import HybridRecommender
    from recommender.services.datasets import load_dataset

    engine, home, _, report = demo_cnn
    dataset = load_dataset(engine)
    assert dataset.predicted_model_version == report.model_version
    assert dataset.item_embeddings.shape == (150, CNNConfig().embedding)
    model = HybridRecommender.train(dataset, seed=0)
    loaded = HybridRecommender.load(model.save(home / "recommender-with-sound"))
    truth = json.loads((home / "demo" / "truth.json").read_text())["tracks"]
    cold = [t for t, info in truth.items() if info["cold"]]
    genres = [info["genre"] for info in truth.values()]
    same = total = 0
    for track in cold:
        neighbours = loaded.similar(track, n=5)
        assert {r.source for r in neighbours} == {"audio"} and len(neighbours) == 5
        assert track not in {r.item_id for r in neighbours}
        same += sum(truth[r.item_id]["genre"] == truth[track]["genre"] for r in neighbours)
        total += len(neighbours)
    chance = sum((genres.count(g) / len(genres)) ** 2 for g in set(genres))
    assert same / total > 2 * chance, (same / total, chance)
