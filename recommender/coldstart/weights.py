"""How much to trust CF for an item: w = n / (n + k), n = how many users played it.

A cold item (n = 0) is scored by content alone; an item with many listeners by CF
alone; `k` is the number of listeners at which both count equally (tuned on HetRec).
"""

from __future__ import annotations

import numpy as np


def cf_weight(play_counts: np.ndarray, *, k: float) -> np.ndarray:
    counts = np.asarray(play_counts, dtype=np.float32)
    if k <= 0:
        return (counts > 0).astype(np.float32)
    return counts / (counts + np.float32(k))
