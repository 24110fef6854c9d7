"""Batch-invariant arithmetic: a row's dot products and statistics are the same bits whether
the row is computed alone or inside any batch, with any thread count or memory alignment."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.core.csr import dot_transposed
from recommender.core.rowdot import RowProducts, row_mean_std


@pytest.mark.parametrize(("n_rows", "width", "n_items"), [(37, 16, 3001), (300, 64, 50), (5, 3, 7)])
def test_row_products_are_the_same_alone_and_in_any_batch(n_rows, width, n_items) -> None:
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(n_rows)
    rows = (rng.standard_normal((n_rows, width)) * rng.uniform(0.01, 100, (n_rows, 1))).astype(
        np.float32
    )
    columns = rng.standard_normal((width, n_items)).astype(np.float32)
    products = RowProducts(columns)
    whole = products.dot(rows)
    assert whole.dtype == np.float32 and whole.shape == (n_rows, n_items)
    scale = np.abs(rows).max(axis=1, keepdims=True) * np.abs(columns).max() * width
    assert (np.abs(whole - rows @ columns) <= 1e-5 * scale).all()  # float32-level agreement
    with threadpool_limits(2):  # the caller's BLAS threads change nothing
        assert np.array_equal(products.dot(rows), whole)
    for start, stop in ((0, 1), (3, 4), (1, n_rows), (n_rows - 1, n_rows)):
        assert np.array_equal(products.dot(rows[start:stop]), whole[start:stop])
        shifted = np.empty((stop - start) * width + 1, np.float32)[1:].reshape(-1, width)
        shifted[:] = rows[start:stop]  # another memory alignment
        assert np.array_equal(products.dot(shifted), whole[start:stop])


def test_row_products_of_zero_rows_and_columns() -> None:
    products = RowProducts(np.zeros((4, 6), np.float32))
    assert not products.dot(np.ones((2, 4), np.float32)).any()
    assert products.dot(np.zeros((0, 4), np.float32)).shape == (0, 6)
    assert RowProducts(np.ones((4, 6))).columns.dtype == np.float32  # any input is made float32


def test_sparse_rows_times_a_transposed_matrix_alone_and_in_a_batch() -> None:
    rng = np.random.default_rng(2)
    rows = sp.random(40, 300, density=0.1, format="csr", dtype=np.float32, random_state=3)
    matrix = sp.random(500, 300, density=0.05, format="csr", dtype=np.float32, random_state=4)
    whole = dot_transposed(rows, matrix)
    np.testing.assert_allclose(whole, (rows @ matrix.T).toarray(), rtol=1e-5, atol=1e-6)
    for row in rng.integers(0, 40, 8):
        assert np.array_equal(dot_transposed(rows[row : row + 1], matrix)[0], whole[row])
    empty = sp.csr_matrix((2, 300), dtype=np.float32)
    assert not dot_transposed(empty, matrix).any()


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
