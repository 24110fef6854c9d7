"""Batch-invariant arithmetic: a row's dot products and statistics are the same bits whether
the row is computed alone or inside any batch, with any thread count or memory alignment."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.core.rowdot import ExactColumns, row_mean_std


@pytest.mark.parametrize(("n_rows", "width", "n_items"), [(37, 16, 3001), (300, 64, 50), (5, 3, 7)])
def test_exact_dots_are_the_same_alone_and_in_any_batch(n_rows, width, n_items) -> None:
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(n_rows)
    rows = (rng.standard_normal((n_rows, width)) * rng.uniform(0.01, 100, (n_rows, 1))).astype(
        np.float32
    )
    columns = rng.standard_normal((width, n_items)).astype(np.float32)
    exact = ExactColumns.of(columns)
    assert np.abs(exact.values).max() < 2.0**52 / width  # every partial sum an exact integer
    whole = exact.dot(rows)
    scale = np.abs(rows).max(axis=1, keepdims=True) * np.abs(columns).max() * width
    assert (np.abs(whole - rows @ columns) <= 1e-5 * scale).all()  # float32-level agreement
    with threadpool_limits(1):
        assert np.array_equal(exact.dot(rows), whole)
    for start, stop in ((0, 1), (3, 4), (1, n_rows), (n_rows - 1, n_rows)):
        assert np.array_equal(exact.dot(rows[start:stop]), whole[start:stop])
        shifted = np.empty((stop - start) * width + 1, np.float32)[1:].reshape(-1, width)
        shifted[:] = rows[start:stop]  # another memory alignment
        assert np.array_equal(exact.dot(shifted), whole[start:stop])


def test_exact_dots_of_zero_rows_and_columns() -> None:
    exact = ExactColumns.of(np.zeros((4, 6), np.float32))
    assert not exact.dot(np.ones((2, 4), np.float32)).any()
    assert exact.dot(np.zeros((0, 4), np.float32)).shape == (0, 6)
    assert not ExactColumns.of(np.ones((4, 6), np.float32)).dot(np.zeros((1, 4))).any()


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
