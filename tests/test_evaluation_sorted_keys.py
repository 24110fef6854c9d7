"""The sort-based key helpers behave exactly like np.unique / np.isin, which they replace."""

import numpy as np
import pytest

from recommender.data.leakage import sorted_unique
from recommender.data.splits import _in_sorted


@pytest.mark.parametrize(
    "keys",
    [
        np.array([], dtype=np.int64),
        np.array([7], dtype=np.int64),
        np.arange(0, 50, 3, dtype=np.int64),  # already strictly increasing: returned as is
        np.array([5, 5, 5], dtype=np.int64),
        np.random.default_rng(0).integers(0, 1000, 5000),
        np.array([3, 1, 2, 2, 9, 0, 1], dtype=np.int64),
    ],
)
def test_sorted_unique_matches_np_unique(keys):
    np.testing.assert_array_equal(sorted_unique(keys), np.unique(keys))


def test_in_sorted_matches_np_isin():
    rng = np.random.default_rng(1)
    keys = np.unique(rng.integers(0, 10_000, 3000))
    values = rng.integers(-5, 10_010, 20_000)
    np.testing.assert_array_equal(_in_sorted(values, keys), np.isin(values, keys))
    assert not _in_sorted(values, keys[:0]).any()
