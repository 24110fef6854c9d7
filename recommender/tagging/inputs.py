"""What every tagger checks of its training inputs."""

from __future__ import annotations

import numpy as np


def check_fit_inputs(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X (n, d) and Y (n, n_tags) as float64; a shape mismatch or a non-finite X is a ValueError."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    if X.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"X {X.shape} and Y {Y.shape} must be 2-D with the same number of rows")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinity")
    return X, Y
