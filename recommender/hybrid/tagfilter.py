"""Which items carry a tag, for `--tag` (every one of them) and `--any-tag` (at least one).

An item carries a tag when the tag's weight on it passes the bar of its source
(`TagFilterConfig`): a crowd tag by its assignments relative to the item's top tag, a
predicted tag by its probability against the tagger's threshold for that tag. One stray
assignment among many therefore no longer qualifies an item. The bundle keeps one
items x tags matrix, `tag_weights`, of the weights that pass (the larger where both
sources do); an item carries a tag exactly where it has a stored weight.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from recommender.errors import NoMatchError
from recommender.hybrid.configs import TagFilterConfig


def crowd_weights(counts: sp.spmatrix) -> sp.csr_matrix:
    """items x tags: each tag's assignments on the item over those of the item's most
    assigned tag (Last.fm's tag weight / 100: the top tag weighs 1), float64."""
    counts = sp.csr_matrix(counts, dtype=np.float64)
    if counts.shape[1] == 0:  # a catalogue nobody tagged
        return counts
    top = counts.max(axis=1).toarray().ravel()
    scale = np.divide(1.0, top, out=np.zeros_like(top), where=top > 0)
    return sp.csr_matrix(sp.diags(scale) @ counts)


def probability_bars(
    thresholds: np.ndarray | None, n_tags: int, *, default: float
) -> np.ndarray:
    """(n_tags,) the probability a predicted tag needs: the tagger's own threshold where
    it stored one, `default` elsewhere."""
    if thresholds is None:
        return np.full(n_tags, default, dtype=np.float64)
    bars = np.asarray(thresholds, dtype=np.float64)
    if bars.shape != (n_tags,):
        raise ValueError(f"{bars.shape} tagger thresholds for {n_tags} tags")
    return np.where(np.isnan(bars), default, bars)


def tag_weights(
    counts: sp.spmatrix,
    predicted: sp.spmatrix | None,
    config: TagFilterConfig,
    *,
    thresholds: np.ndarray | None = None,
) -> sp.csr_matrix:
    """items x tags float32: the crowd weight or predicted probability of every tag an
    item carries (each past its bar, see the module notes); nothing stored elsewhere."""
    crowd = crowd_weights(counts)
    crowd.data[crowd.data < config.min_weight] = 0.0
    weights = crowd
    if predicted is not None:
        predicted = sp.csr_matrix(predicted, dtype=np.float64)
        bars = probability_bars(thresholds, predicted.shape[1], default=config.min_probability)
        predicted.data[predicted.data < bars[predicted.indices]] = 0.0
        weights = crowd.maximum(predicted)
    weights = sp.csr_matrix(weights, dtype=np.float32)
    weights.eliminate_zeros()
    weights.sort_indices()
    return weights


def carriers(weights: sp.csr_matrix, every: np.ndarray, some: np.ndarray) -> np.ndarray:
    """Sorted indices of the items carrying every tag in `every` and, when `some` is not
    empty, at least one tag in `some` (tag indices into the columns of `weights`)."""
    keep = np.ones(weights.shape[0], dtype=bool)
    every = np.unique(np.asarray(every, dtype=np.int64))
    if len(every):
        keep &= weights[:, every].getnnz(axis=1) == len(every)
    some = np.unique(np.asarray(some, dtype=np.int64))
    if len(some):
        keep &= weights[:, some].getnnz(axis=1) > 0
    return np.flatnonzero(keep)


def describe(every: Sequence[str], some: Sequence[str]) -> str:
    """'rock and jazz', 'one of rock, jazz', 'rock and one of piano, organ'."""
    parts = [" and ".join(every)] if every else []
    if some:
        parts.append(some[0] if len(some) == 1 else "one of " + ", ".join(some))
    return " and ".join(parts)


def no_carrier_error(
    weights: sp.csr_matrix,
    every: Sequence[str],
    some: Sequence[str],
    *,
    index: dict[str, int],
    config: TagFilterConfig,
) -> NoMatchError:
    """Why a tag filter matches no item at all: how many items carry each tag alone, the
    bars, and what to try."""
    counts = weights.getnnz(axis=0)
    alone = ", ".join(f"{t} {int(counts[index[t]])}" for t in dict.fromkeys([*every, *some]))
    tried = "--any-tag for any of them, " if len(every) > 1 and not some else ""
    return NoMatchError(
        f"no item carries {describe(every, some)} (items carrying each alone: {alone},"
        f" counting a crowd tag from weight {config.min_weight:g} of the item's top tag and"
        f" a predicted tag from the tagger's threshold); try {tried}fewer tags, or a lower"
        " TagFilterConfig.min_weight when training"
    )


def filtered_out_error(
    n_carriers: int, every: Sequence[str], some: Sequence[str], *, who: str
) -> NoMatchError:
    """Why a list under a tag filter came out empty although items carry the tags."""
    if n_carriers == 1:
        what = f"the one item carrying {describe(every, some)} is"
    else:
        what = f"all {n_carriers} items carrying {describe(every, some)} are"
    return NoMatchError(
        f"{what} already played by {who}; add --include-listened to list them,"
        " or widen the filter with --any-tag"
    )
