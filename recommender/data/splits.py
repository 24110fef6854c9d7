"""Train / validation / test splits of a Dataset, all seeded and leak-free by construction.

Every splitter holds out (user, item) interactions and returns a `Split` whose
`train` Dataset has neither the held-out plays nor any tag assignment a user made
to an item whose interaction with that user is held out: tagging an artist
reveals listening to it, so keeping those tags would leak the answer into
content-based and tag-profile models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.data.dataset import Dataset
from recommender.data.leakage import sorted_unique
from recommender.data.split_names import COLD_UNITS, SPLITS
from recommender.errors import InputError, shown


@dataclass(frozen=True)
class Split:
    """What a model may learn from (`train`) and what it is judged on (`test`).

    `validation` is held out like `test` (for tuning, early stopping, re-ranker
    training) and may be empty. `candidates` are the item indices ranked at test
    time: the items played at least once in the whole data (None when that is every
    item), as in RecBole, whose item set is the interaction file's; the runner also
    excludes each user's training and validation items. The cold-items split ranks
    only its cold items.
    """

    name: str
    train: Dataset
    validation: sp.csr_matrix
    test: sp.csr_matrix
    candidates: np.ndarray | None = None
    validation_candidates: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def test_users(self) -> np.ndarray:
        """Users with at least one test interaction: the only ones evaluated."""
        return np.flatnonzero(np.diff(self.test.indptr))


def _interactions(plays: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the stored plays in (user, item) order: a seed always means one split."""
    rows, cols, _ = _canonical(plays)
    return rows, cols


def _canonical(plays: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    csr = sp.csr_matrix(plays, copy=True)
    csr.sum_duplicates()  # also sorts the column indices of every row
    csr.eliminate_zeros()
    rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
    return rows, csr.indices.astype(np.int64), csr.data.astype(np.float32)


def _per_user_random_rank(rows: np.ndarray, n_users: int, rng: np.random.Generator):
    """(order, position, count): interactions grouped by user in random order within a user."""
    perm = rng.permutation(len(rows))
    order = perm[np.argsort(rows[perm], kind="stable")]
    counts = np.bincount(rows, minlength=n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    position = np.arange(len(rows)) - starts[rows[order]]
    return order, position, counts[rows[order]]


def _in_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """np.isin against sorted unique keys by binary search (isin re-uniques them by hashing)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(values), dtype=bool)
    found = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[found] == values


def _build(
    data: Dataset,
    name: str,
    part: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    candidates: np.ndarray | None = None,
    validation_candidates: np.ndarray | None = None,
    params: dict[str, Any],
) -> Split:
    """Assemble a Split from a part label per interaction: 0 train, 1 validation, 2 test."""
    values = _canonical(data.plays)[2]  # same order as `rows, cols` from _interactions

    def matrix(label: int) -> sp.csr_matrix:
        keep = part == label
        return sp.csr_matrix((values[keep], (rows[keep], cols[keep])), shape=data.plays.shape)

    train_plays = matrix(0)
    held = part > 0
    held_keys = sorted_unique(rows[held] * data.n_items + cols[held])
    events = data.tag_events
    event_keys = events.user.astype(np.int64) * data.n_items + events.item
    kept_events = events.select(~_in_sorted(event_keys, held_keys))
    last_played = None
    if data.last_played is not None:
        mask = (train_plays != 0).astype(np.float64)
        last_played = sp.csr_matrix(data.last_played.multiply(mask))
    train = data.replace(plays=train_plays, tag_events=kept_events, last_played=last_played)
    if candidates is None:
        # RecBole's item set is the items of the interaction data: an item nobody ever
        # played (a catalogue track with no listens, a HetRec artist known only from
        # tags) can never be relevant in any split, so ranking it only punishes exploring.
        # How such items are placed is what the cold-items split measures.
        ever_played = np.flatnonzero(data.item_play_counts() > 0)
        if len(ever_played) < data.n_items:
            candidates = ever_played
            validation_candidates = ever_played
    return Split(
        name=name,
        train=train,
        validation=matrix(1),
        test=matrix(2),
        candidates=candidates,
        validation_candidates=validation_candidates,
        params=params,
    )


def _check_ratios(ratios: tuple[float, float, float]) -> np.ndarray:
    values = np.asarray(ratios, dtype=np.float64)
    if len(values) != 3 or (values < 0).any() or values[0] <= 0 or values[2] <= 0:
        raise InputError(
            f"split ratios {ratios} must be three non-negative numbers with train, test > 0"
        )
    return values / values.sum()


def _require_plays(data: Dataset) -> None:
    if data.plays.nnz == 0:
        raise InputError(
            "the database has no listens to evaluate on; load data first with `recsys etl ...`"
        )


def random_split(
    data: Dataset, *, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Split:
    """Per-user random ratio split, RecBole's default ("RS", grouped by user).

    Each user's interactions are shuffled and cut floor(ratio * n) for validation
    and test, giving a user with few interactions one test (then one validation)
    item as long as one stays in training, exactly as RecBole's `split_by_ratio`.
    """
    _require_plays(data)
    fractions = _check_ratios(ratios)
    rows, cols = _interactions(data.plays)
    order, position, n = _per_user_random_rank(rows, data.n_users, np.random.default_rng(seed))
    n_test = np.floor(fractions[2] * n).astype(np.int64)
    n_val = np.floor(fractions[1] * n).astype(np.int64)
    n_train = n - n_test - n_val
    for count, frac in ((n_test, fractions[2]), (n_val, fractions[1])):
        bump = (n_train > 1) & (count == 0) & (frac * n > 0) & (frac * n < 1)
        count += bump
        n_train -= bump
    part = np.where(position < n_train, 0, np.where(position < n_train + n_val, 1, 2))
    labels = np.empty(len(rows), dtype=np.int8)
    labels[order] = part
    return _build(
        data, "random", labels, rows, cols, params={"ratios": fractions.tolist(), "seed": seed}
    )


def leave_k_out_split(data: Dataset, *, k: int = 1, seed: int = 0, by_time: bool = False) -> Split:
    """Hold out k interactions per user for test and k more for validation.

    A user needs more than k interactions to get test items and more than 2k to
    get validation items, so nobody is left with an empty training history.
    With `by_time` the most recent interactions are held out (needs timestamps).
    """
    _require_plays(data)
    if k < 1:
        raise InputError(f"leave-k-out needs k >= 1, got {k}")
    rows, cols = _interactions(data.plays)
    rng = np.random.default_rng(seed)
    if by_time:
        stamps = _timestamps(data, rows, cols)
        tiebreak = rng.permutation(len(rows))
        order = np.lexsort((tiebreak, stamps, rows))
        counts = np.bincount(rows, minlength=data.n_users)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        position = np.arange(len(rows)) - starts[rows[order]]
        n = counts[rows[order]]
    else:
        order, position, n = _per_user_random_rank(rows, data.n_users, rng)
    from_end = n - position  # 1 for the last interaction of a user
    part = np.zeros(len(rows), dtype=np.int8)
    part[(n > k) & (from_end <= k)] = 2
    part[(n > 2 * k) & (from_end > k) & (from_end <= 2 * k)] = 1
    labels = np.empty(len(rows), dtype=np.int8)
    labels[order] = part
    return _build(
        data, "leave-k-out", labels, rows, cols, params={"k": k, "seed": seed, "by_time": by_time}
    )


def _timestamps(data: Dataset, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    if data.last_played is None:
        raise InputError(
            "a time-based split needs listen timestamps (listens.last_played) and the loaded data "
            "has none; use --split random or load a source with timestamps"
        )
    return np.asarray(data.last_played[rows, cols]).ravel()


def time_split(
    data: Dataset, *, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Split:
    """Global temporal split: the oldest 80% of interactions train, the newest 10% test.

    One cut-off for everybody (not per user) so no model ever sees another
    user's future; equal timestamps are ordered by the seed. Users whose plays all
    fall after the cut-off are evaluated as cold users.
    """
    _require_plays(data)
    fractions = _check_ratios(ratios)
    rows, cols = _interactions(data.plays)
    stamps = _timestamps(data, rows, cols)
    order = np.lexsort((np.random.default_rng(seed).permutation(len(rows)), stamps))
    n_train = int(round(fractions[0] * len(rows)))
    n_val = int(round(fractions[1] * len(rows)))
    labels = np.empty(len(rows), dtype=np.int8)
    labels[order] = np.repeat(
        np.array([0, 1, 2], dtype=np.int8), [n_train, n_val, len(rows) - n_train - n_val]
    )
    cutoffs = [float(stamps[order[i]]) for i in (n_train, n_train + n_val) if i < len(rows)]
    return _build(
        data,
        "time",
        labels,
        rows,
        cols,
        params={"ratios": fractions.tolist(), "seed": seed, "cutoffs": cutoffs},
    )


def _check_fraction(name: str, value: float) -> None:
    if not 0 <= value < 1:
        raise InputError(f"{name} must be in [0, 1), got {value}")


def cold_items_split(
    data: Dataset,
    *,
    fraction: float = 0.2,
    validation_fraction: float = 0.0,
    by: str = "item",
    seed: int = 0,
) -> Split:
    """A seeded `fraction` of the played items loses every training interaction.

    Their plays become the test set and each test user's cold items are ranked
    among all cold items (the `candidates`), the situation of a new release that
    only content (crowd tags from other listeners, audio-predicted tags) can place.
    Items nobody played are not drawn: they could never be relevant.
    `validation_fraction` makes a second, disjoint set of cold items for tuning.

    `by="artist"` draws whole artists (`item_meta["artist"]`; an item without one
    is its own artist) in seeded order until at least `fraction` of the played
    items are cold: no cold item keeps a sibling by the same artist in training,
    whose sound (and so audio-predicted tags) is nearly its own.
    """
    _require_plays(data)
    _check_fraction("cold item fraction", fraction)
    _check_fraction("validation fraction", validation_fraction)
    if by not in COLD_UNITS:
        raise InputError(f"cold items by {shown(by)}: choose one of {', '.join(COLD_UNITS)}")
    rows, cols = _interactions(data.plays)
    played = np.flatnonzero(data.item_play_counts() > 0)
    rng = np.random.default_rng(seed)
    n_test = max(1, int(round(fraction * len(played))))
    n_val = int(round(validation_fraction * len(played)))
    if by == "item":
        shuffled = rng.permutation(played)
        test_items = np.sort(shuffled[:n_test])
        val_items = np.sort(shuffled[n_test : n_test + n_val])
    else:
        test_items, val_items = _draw_artists(data, played, n_test, n_val, rng)
    part = np.zeros(len(rows), dtype=np.int8)
    part[np.isin(cols, val_items)] = 1
    part[np.isin(cols, test_items)] = 2
    n_val = len(val_items)
    params: dict[str, Any] = {"fraction": fraction, "validation_fraction": validation_fraction}
    if by != "item":
        params["by"] = by
    return _build(
        data,
        "cold-items",
        part,
        rows,
        cols,
        candidates=test_items,
        validation_candidates=val_items if n_val else None,
        params=params | {"seed": seed, "n_cold_items": len(test_items)},
    )


def _draw_artists(
    data: Dataset, played: np.ndarray, n_test: int, n_val: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(test items, validation items): whole artists of `played`, in seeded order, until
    each part holds at least its count of items."""
    meta = data.item_meta
    if meta is None or "artist" not in meta:
        raise InputError("cold items by artist: the dataset has no artist per item")
    artist = meta["artist"].to_numpy(dtype=object)[played]
    keys = np.array(
        [f"\0{item}" if not a else str(a) for a, item in zip(artist, played, strict=True)],
        dtype=object,
    )
    groups, group_of = np.unique(keys, return_inverse=True)
    sizes = np.bincount(group_of, minlength=len(groups))
    order = rng.permutation(len(groups))
    reached = np.cumsum(sizes[order])
    n_test_groups = int(np.searchsorted(reached, n_test)) + 1
    n_all_groups = n_test_groups + (
        int(np.searchsorted(reached[n_test_groups:] - reached[n_test_groups - 1], n_val)) + 1
        if n_val
        else 0
    )
    test = np.isin(group_of, order[:n_test_groups])
    val = np.isin(group_of, order[n_test_groups:n_all_groups])
    return np.sort(played[test]), np.sort(played[val])


def cold_users_split(
    data: Dataset,
    *,
    fraction: float = 0.2,
    validation_fraction: float = 0.0,
    given: int = 0,
    seed: int = 0,
) -> Split:
    """A seeded `fraction` of users keeps only `given` random interactions in training.

    With `given=0` (the default) they are brand-new users: only non-personalised
    models can rank for them; `given > 0` measures the first few sessions.
    Only users with more than `given` interactions are drawn.
    """
    _require_plays(data)
    _check_fraction("cold user fraction", fraction)
    _check_fraction("validation fraction", validation_fraction)
    rows, cols = _interactions(data.plays)
    rng = np.random.default_rng(seed)
    counts = np.bincount(rows, minlength=data.n_users)
    eligible = np.flatnonzero(counts > given)
    shuffled = rng.permutation(eligible)
    n_test = max(1, int(round(fraction * len(eligible))))
    n_val = int(round(validation_fraction * len(eligible)))
    role = np.zeros(data.n_users, dtype=np.int8)
    role[shuffled[n_test : n_test + n_val]] = 1
    role[shuffled[:n_test]] = 2
    order, position, _ = _per_user_random_rank(rows, data.n_users, rng)
    part = np.where(position < given, 0, role[rows[order]]).astype(np.int8)
    labels = np.empty(len(rows), dtype=np.int8)
    labels[order] = part
    return _build(
        data,
        "cold-users",
        labels,
        rows,
        cols,
        params={
            "fraction": fraction,
            "validation_fraction": validation_fraction,
            "given": given,
            "seed": seed,
        },
    )


def make_split(data: Dataset, name: str, *, seed: int = 0, **params: Any) -> Split:
    """The split called `name` (as on the command line) with its defaults."""
    makers = {
        "random": random_split,
        "leave-k-out": leave_k_out_split,
        "time": time_split,
        "cold-items": cold_items_split,
        "cold-users": cold_users_split,
    }
    assert tuple(makers) == SPLITS, "split_names.SPLITS must list exactly these splits"
    if name not in makers:
        raise InputError(f"unknown split {shown(name)}; choose one of {', '.join(SPLITS)}")
    return makers[name](data, seed=seed, **params)
