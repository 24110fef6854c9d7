"""Train the CNN tagger with PyTorch on the CPU and export it to ONNX (the `cnn` extra).

Each epoch draws `chunks_per_track` random crops of every training track and
augments them (random gain, one SpecAugment frequency and time mask), so 300 clips
give a different view each epoch. A validation share of the training tracks picks
the epoch with the lowest track-level loss (early stopping); with
`validation_fraction=0` it trains exactly `max_epochs` (how the final model is refit
on all labelled tracks with the epoch count the held-out run chose). Seeded: the same
data, config and seed give the same network on the same machine.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from recommender.tagging.cnn.mel import track_chunks
from recommender.tagging.cnn.model import CNNConfig, CNNTagger
from recommender.tagging.cnn.network import ShortChunkCNN


@dataclass
class Fitted:
    network: ShortChunkCNN  # in eval mode, best epoch's weights
    training: dict  # epochs run, best epoch, loss curves, seconds


def train_cnn(
    mels: list[np.ndarray],
    Y: np.ndarray,
    tags: list[str],
    config: CNNConfig,
    *,
    on_epoch: Callable[[int, float, float | None], None] | None = None,
) -> CNNTagger:
    """A CNNTagger fitted on spectrograms `mels` (each (n_mels, frames)) and labels Y."""
    fitted = fit_network(mels, Y, config, on_epoch=on_epoch)
    tagger = CNNTagger(config)
    tagger.network_bytes = export_onnx(fitted.network, config)
    tagger.tags = list(tags)
    tagger.training = fitted.training
    tagger.fitted = True
    return tagger


def fit_network(
    mels: list[np.ndarray],
    Y: np.ndarray,
    config: CNNConfig,
    *,
    on_epoch: Callable[[int, float, float | None], None] | None = None,
) -> Fitted:
    started = time.perf_counter()
    Y = np.asarray(Y, dtype=np.float32)
    if len(mels) != len(Y) or Y.ndim != 2:
        raise ValueError(f"{len(mels)} spectrograms and labels of shape {Y.shape} do not match")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    try:
        order = rng.permutation(len(mels))
        n_val = int(round(config.validation_fraction * len(mels)))
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        together = np.concatenate([mels[i] for i in train], axis=1)
        network = ShortChunkCNN(
            n_mels=config.mel.n_mels,
            n_tags=Y.shape[1],
            channels=tuple(config.channels),
            embedding=config.embedding,
            dropout=config.dropout,
            band_mean=together.mean(axis=1),
            band_std=np.maximum(together.std(axis=1), 1e-3),
        )
        optimiser = torch.optim.AdamW(
            network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        loss_fn = nn.BCEWithLogitsLoss()
        val_chunks = [torch.from_numpy(track_chunks(mels[i], config.mel.chunk_frames)) for i in val]
        best = (np.inf, 0, copy.deepcopy(network.state_dict()))
        train_curve: list[float] = []
        val_curve: list[float] = []
        for epoch in range(1, config.max_epochs + 1):
            train_curve.append(_epoch(network, optimiser, loss_fn, mels, Y, train, config, rng))
            if len(val):
                val_loss = _track_loss(network, val_chunks, Y[val])
                val_curve.append(val_loss)
                if val_loss < best[0] - 1e-4:
                    best = (val_loss, epoch, copy.deepcopy(network.state_dict()))
            if on_epoch is not None:
                on_epoch(epoch, train_curve[-1], val_curve[-1] if len(val) else None)
            if len(val) and epoch - best[1] >= config.patience:
                break
        if len(val):
            network.load_state_dict(best[2])
        best_epoch = best[1] if len(val) else len(train_curve)
    finally:
        torch.set_num_threads(previous_threads)
    network.eval()
    return Fitted(
        network,
        {
            "epochs_run": len(train_curve),
            "best_epoch": int(best_epoch),
            "train_loss": [round(v, 5) for v in train_curve],
            "validation_loss": [round(v, 5) for v in val_curve],
            "train_tracks": int(len(train)),
            "validation_tracks": int(len(val)),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )


def _epoch(network, optimiser, loss_fn, mels, Y, train, config: CNNConfig, rng) -> float:
    """One pass over random augmented crops of every training track; mean batch loss."""
    network.train()
    chunk = config.mel.chunk_frames
    picks = np.repeat(train, config.chunks_per_track)
    rng.shuffle(picks)
    total, batches = 0.0, 0
    for start in range(0, len(picks), config.batch_size):
        batch = picks[start : start + config.batch_size]
        if len(batch) < 2:  # batch norm needs two examples
            continue
        x = torch.from_numpy(np.stack([_augmented(mels[i], chunk, config, rng) for i in batch]))
        optimiser.zero_grad()
        logits, _ = network(x)
        loss = loss_fn(logits, torch.from_numpy(Y[batch]))
        loss.backward()
        optimiser.step()
        total += float(loss.detach())
        batches += 1
    return total / max(batches, 1)


def _augmented(mel: np.ndarray, chunk: int, config: CNNConfig, rng) -> np.ndarray:
    from recommender.tagging.cnn.mel import fit_chunk

    start = int(rng.integers(0, max(mel.shape[1] - chunk, 0) + 1))
    x = fit_chunk(mel, start, chunk) + np.float32(rng.uniform(-config.gain_db, config.gain_db))
    floor = float(x.min())
    if config.freq_mask:
        width = int(rng.integers(0, config.freq_mask + 1))
        low = int(rng.integers(0, x.shape[0] - width + 1))
        x[low : low + width, :] = floor
    if config.time_mask:
        width = int(rng.integers(0, config.time_mask + 1))
        low = int(rng.integers(0, x.shape[1] - width + 1))
        x[:, low : low + width] = floor
    return x.astype(np.float32, copy=False)


@torch.no_grad()
def _track_loss(network, chunks: list[torch.Tensor], Y: np.ndarray) -> float:
    """Binary cross-entropy of track-level probabilities (mean over chunks), as served."""
    network.eval()
    probs = torch.stack([torch.sigmoid(network(c)[0]).mean(dim=0) for c in chunks])
    probs = probs.clamp(1e-6, 1 - 1e-6)
    return float(nn.functional.binary_cross_entropy(probs, torch.from_numpy(Y)))


@torch.no_grad()
def eager_outputs(network: ShortChunkCNN, chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits, embeddings) of chunks with PyTorch itself: the reference ONNX must match."""
    network.eval()
    logits, embedding = network(torch.from_numpy(np.ascontiguousarray(chunks, dtype=np.float32)))
    return logits.numpy(), embedding.numpy()


def export_onnx(network: ShortChunkCNN, config: CNNConfig) -> bytes:
    """The network as ONNX bytes with a dynamic batch axis: input `mel` (batch, n_mels,
    chunk_frames); outputs `logits` and `embedding`."""
    network.eval()
    example = torch.zeros(2, config.mel.n_mels, config.mel.chunk_frames)
    buffer = io.BytesIO()
    # The exporter narrates its passes on stdout and logs missing torchvision ops; neither
    # is news to a user training a tagger (a failure still raises).
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            network,
            (example,),
            input_names=["mel"],
            output_names=["logits", "embedding"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            dynamo=True,
            verbose=False,
        )
    program.save(buffer)
    return buffer.getvalue()
