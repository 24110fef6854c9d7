"""CNN tagger benchmark: training seconds per epoch, inference speed ONNX Runtime vs PyTorch.

Data: the demo generator's catalogue (audible genre, mood and instrument tags,
6 s clips) rendered into the bench's work folder, 60 tracks at the default scale
(300, the demo's size, at scale 0.05), labelled with their true tags.

- Training: `fit_network` with the default CNNConfig for a fixed number of epochs
  (no validation share, no early stopping), seconds per epoch, one PyTorch thread.
- Inference: every track's chunks through the same trained network, once with ONNX
  Runtime (what serving runs) and once with PyTorch eager (`eager_outputs`), both
  on one thread, same inputs, same batch of 64 chunks; best of 3 after a warm-up.
  Speed is seconds of audio per wall second; the reference is PyTorch eager.
- The log-mel spectrogram itself (librosa, from decoded audio), for scale.
"""

from __future__ import annotations

import json
import time

import numpy as np

from bench.harness import BenchContext, Result

NAME = "cnn"
EPOCHS = 3
REPEATS = 3
BATCH = 64  # = recommender.tagging.cnn.runtime.BATCH


def _best_of(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up: session / kernel initialisation
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return float(best)


def _demo_data(ctx: BenchContext, tracks: int):
    from etl.demo import generate_demo
    from recommender.audio.decode import load_audio
    from recommender.tagging.cnn.mel import MelConfig, log_mel

    files = generate_demo(ctx.work_dir / "cnn-demo", users=20, tracks=tracks, seed=0)
    truth = json.loads(files.truth.read_text())
    tags = truth["vocabulary"]["informative"]
    items = sorted(truth["tracks"].items())
    Y = np.array([[t in item["tags"] for t in tags] for _, item in items], dtype=np.float32)
    config = MelConfig()
    signals = [
        load_audio(files.directory / item["audio_path"], sr=config.sr, duration=config.duration)
        for _, item in items
    ]
    audio_seconds = sum(len(y) for y in signals) / config.sr
    log_mel(signals[0], config)  # warm-up: librosa's first call builds its filters
    started = time.perf_counter()
    mels = [log_mel(y, config) for y in signals]
    mel_seconds = time.perf_counter() - started
    return mels, Y, tags, audio_seconds, mel_seconds


def run(ctx: BenchContext) -> list[Result]:
    import torch

    from recommender.tagging.cnn.mel import track_chunks
    from recommender.tagging.cnn.model import CNNConfig
    from recommender.tagging.cnn.runtime import OnnxNetwork
    from recommender.tagging.cnn.train import eager_outputs, export_onnx, fit_network

    torch.set_num_threads(1)
    tracks = max(40, int(6000 * ctx.scale))
    mels, Y, tags, audio_seconds, mel_seconds = _demo_data(ctx, tracks)
    config = CNNConfig(max_epochs=EPOCHS, validation_fraction=0.0, threads=1, seed=0)
    fitted = fit_network(mels, Y, config)
    per_epoch = fitted.training["seconds"] / fitted.training["epochs_run"]
    crops = len(mels) * config.chunks_per_track
    params = sum(p.numel() for p in fitted.network.parameters())
    clip = audio_seconds / len(mels)
    results = [
        Result(
            NAME,
            "training seconds per epoch (default CNNConfig, 1 thread)",
            round(per_epoch, 3),
            "s",
            note=f"{len(mels)} demo tracks x {clip:.0f} s, {crops} augmented crops of "
            f"{config.mel.chunk_seconds:.2f} s per epoch, {EPOCHS} epochs, {params:,} parameters",
        ),
        Result(
            NAME,
            "training crops per second",
            round(crops / per_epoch, 1),
            "crops/s",
            note=f"batch {config.batch_size}, {len(tags)} tags",
        ),
    ]

    chunks = np.concatenate([track_chunks(m, config.mel.chunk_frames) for m in mels])
    started = time.perf_counter()
    onnx = OnnxNetwork(export_onnx(fitted.network, config), threads=1)
    export_seconds = time.perf_counter() - started

    def eager():
        return [
            eager_outputs(fitted.network, chunks[i : i + BATCH])
            for i in range(0, len(chunks), BATCH)
        ]

    t_onnx = _best_of(lambda: onnx.run(chunks))
    t_eager = _best_of(eager)
    logits_onnx = onnx.run(chunks)[0]
    logits_eager = np.concatenate([out[0] for out in eager()])
    gap = float(np.max(np.abs(logits_onnx - logits_eager)))
    results += [
        Result(
            NAME,
            "inference, ONNX Runtime (1 thread)",
            round(audio_seconds / t_onnx, 1),
            "audio s / wall s",
            baseline=round(audio_seconds / t_eager, 1),
            note=f"{len(chunks)} chunks of {len(mels)} tracks, batches of {BATCH}, best of "
            f"{REPEATS}; ref = PyTorch eager, same network and inputs; max |logit gap| {gap:.1e}",
        ),
        Result(
            NAME,
            "ONNX export + session load",
            round(export_seconds, 2),
            "s",
            note="once per trained model",
        ),
        Result(
            NAME,
            "log-mel spectrogram (librosa, decoded audio in memory)",
            round(audio_seconds / mel_seconds, 1),
            "audio s / wall s",
            note=f"{audio_seconds:.0f} s of audio",
        ),
    ]
    return results
