"""Batch-invariant arithmetic: a row's dot products and statistics are the same bits whether
the row is computed alone or inside any batch, on any memory alignment."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.core.rowdot import row_dot, row_mean_std


@pytest.mark.parametrize(("n_rows", "width", "n_items"), [(37, 16, 3001), (300, 64, 50), (5, 3, 7)])
def test_row_dot_is_the_same_alone_and_in_any_batch(n_rows, width, n_items) -> None:
    rng = np.random.default_rng(n_rows)
    rows = rng.standard_normal((n_rows, width)).astype(np.float32)
    columns_t = rng.standard_normal((width, n_items)).astype(np.float32)
    whole = row_dot(rows, columns_t)
    np.testing.assert_allclose(whole, rows @ columns_t, rtol=1e-4, atol=1e-4)
    for start, stop in ((0, 1), (3, 4), (1, n_rows), (n_rows - 1, n_rows)):
        assert np.array_equal(row_dot(rows[start:stop], columns_t), whole[start:stop])


def test_row_statistics_are_the_same_alone_and_in_a_batch() -> None:
    rng = np.random.default_rng(4)
    for n_items in (10, 127, 18_022):  # short rows are where numpy's own reductions differ
        values = rng.standard_normal((80, n_items)).astype(np.float32) * 3 + 1
        mean, std = row_mean_std(values)
        np.testing.assert_allclose(mean[:, 0], values.mean(axis=1), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(std[:, 0], values.std(axis=1), rtol=1e-5)
        for row in (0, 5, 79):
            for offset in range(4):  # a copy at another alignment
                buffer = np.empty(n_items + offset, np.float32)[offset:]
                buffer[:] = values[row]
                alone = row_mean_std(buffer[None, :])
                assert alone[0][0, 0] == mean[row, 0] and alone[1][0, 0] == std[row, 0]
