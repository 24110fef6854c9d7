"""What the recommender keeps about items besides scores and tags (`tagfilter`): their names."""

from __future__ import annotations

from typing import Any

import numpy as np


def text_column(values: Any, n: int) -> np.ndarray:
    """A unicode array (npz-safe, no pickle) from a column that may hold None/NaN."""
    if values is None:
        return np.full(n, "", dtype=str)
    return np.asarray(["" if v is None or v != v else str(v) for v in values], dtype=str)
