"""The network (PyTorch, training only): a short-chunk CNN scaled to small catalogues.

Won et al. (2020, "Evaluation of CNN-based automatic music tagging models") found a
plain stack of 3x3 convolutions with batch norm and 2x2 max-pooling over ~3.7 s mel
chunks, then global max-pooling and a dense layer, matched or beat the specialised
designs (musicnn's timbral/temporal filters, sample-level, harmonic CNNs) across
datasets. We keep that shape with fewer channels and layers: catalogues here have
hundreds of tracks, not the MagnaTagATune's 25,000, and it has to train on a CPU.

Input: (batch, n_mels, frames) log-mel dB; the per-band standardisation learned from
the training spectrograms is part of the network, so the exported ONNX model takes
the same spectrogram `mel.log_mel` gives and nothing can be forgotten when serving.
Outputs: tag logits (batch, n_tags) and the penultimate embedding (batch, embedding).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class ShortChunkCNN(nn.Module):
    def __init__(
        self,
        *,
        n_mels: int,
        n_tags: int,
        channels: tuple[int, ...],
        embedding: int,
        dropout: float,
        band_mean: np.ndarray,
        band_std: np.ndarray,
    ) -> None:
        super().__init__()
        self.register_buffer("band_mean", torch.as_tensor(band_mean, dtype=torch.float32)[:, None])
        self.register_buffer("band_std", torch.as_tensor(band_std, dtype=torch.float32)[:, None])
        blocks: list[nn.Module] = []
        previous = 1
        for width in channels:
            blocks += [
                nn.Conv2d(previous, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            previous = width
        self.features = nn.Sequential(*blocks)
        self.embed = nn.Sequential(
            nn.Linear(previous, embedding, bias=False), nn.BatchNorm1d(embedding), nn.ReLU()
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding, n_tags)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = ((mel - self.band_mean) / self.band_std).unsqueeze(1)
        x = self.features(x)
        x = torch.amax(x, dim=(2, 3))  # global max-pool: where in the chunk does not matter
        embedding = self.embed(x)
        return self.head(self.dropout(embedding)), embedding
