"""Splitters: no leakage, seeds honoured, cold items really cold, leaked tags removed exactly."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.data.leakage import LeakageError, check_no_leakage, interaction_keys
from recommender.data.splits import SPLITS, make_split
from recommender.data.synthetic import synthetic_dataset
from recommender.errors import InputError


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(n_users=50, n_items=60, plays_per_user=15, cold_items=4, seed=11)


def keys(matrix: sp.spmatrix, n_items: int) -> set[int]:
    return set(interaction_keys(matrix, n_items).tolist())


@pytest.mark.parametrize("name", SPLITS)
def test_parts_are_disjoint_cover_every_play_and_keep_play_counts(data, name):
    split = make_split(data, name, seed=5)
    n = data.n_items
    train, val, test = keys(split.train.plays, n), keys(split.validation, n), keys(split.test, n)
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == keys(data.plays, n)
    assert len(test) > 0
    total = split.train.plays + split.validation + split.test
    assert (total != data.plays).nnz == 0
    check_no_leakage(split.train, split.test)
    check_no_leakage(split.train, split.validation)


@pytest.mark.parametrize("name", SPLITS)
def test_held_out_tag_assignments_are_removed_exactly(data, name):
    split = make_split(data, name, seed=5)
    n = data.n_items
    held = keys(split.validation, n) | keys(split.test, n)
    events = data.tag_events
    event_keys = events.user.astype(np.int64) * n + events.item
    expected_kept = ~np.isin(event_keys, list(held))
    assert 0 < expected_kept.sum() < len(events)  # the data does exercise both cases
    kept = split.train.tag_events
    expected = events.select(expected_kept)
    for field in ("user", "item", "tag"):
        assert np.array_equal(getattr(kept, field), getattr(expected, field))


@pytest.mark.parametrize("name", SPLITS)
def test_same_seed_same_split_other_seed_other_split(data, name):
    first, again, other = (make_split(data, name, seed=s) for s in (1, 1, 2))
    assert (first.test != again.test).nnz == 0
    assert (first.train.plays != again.train.plays).nnz == 0
    if name != "time":  # a global time cut-off only uses the seed to order equal timestamps
        assert (first.test != other.test).nnz > 0


def test_time_split_tests_on_the_newest_interactions(data):
    split = make_split(data, "time", seed=0)
    stamps_train = split.train.last_played.data
    stamps_test = data.last_played.multiply(split.test != 0).data
    assert stamps_train.max() <= stamps_test.min()


def test_time_split_without_timestamps_is_a_clear_input_error(data):
    with pytest.raises(InputError, match="timestamps"):
        make_split(data.replace(last_played=None), "time")


def test_cold_items_lose_every_training_interaction(data):
    split = make_split(data, "cold-items", seed=3)
    cold = split.candidates
    played = np.flatnonzero(data.item_play_counts() > 0)
    assert len(cold) == round(0.2 * len(played))
    assert np.isin(cold, played).all()
    assert split.train.plays[:, cold].nnz == 0
    assert split.train.item_play_counts()[cold].sum() == 0
    # every play of a cold item is a test interaction and the test has nothing else
    assert (
        split.test != data.plays[:, :].multiply(np.isin(np.arange(data.n_items), cold)[None, :])
    ).nnz == 0
    # tags on cold items survive only from users who never played them
    events = split.train.tag_events
    on_cold = np.isin(events.item, cold)
    assert all(
        data.plays[u, i] == 0
        for u, i in zip(events.user[on_cold], events.item[on_cold], strict=True)
    )


def test_cold_items_honours_fraction_and_validation_items(data):
    split = make_split(data, "cold-items", seed=3, fraction=0.3, validation_fraction=0.1)
    played = (data.item_play_counts() > 0).sum()
    assert len(split.candidates) == round(0.3 * played)
    assert len(split.validation_candidates) == round(0.1 * played)
    assert not np.intersect1d(split.candidates, split.validation_candidates).size
    assert split.train.plays[:, split.validation_candidates].nnz == 0


def _recbole_counts(total: int, ratios=(0.8, 0.1, 0.1)) -> list[int]:
    """RecBole's `_calcu_split_ids`, restated: floor for validation/test, then at least one each."""
    cnt = [int(r * total) for r in ratios]
    cnt[0] = total - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * total < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


def test_random_split_follows_recbole_ratios_per_user(data):
    # give users 1..15 interactions so every rounding branch is exercised
    plays = data.plays.tolil()
    for user in range(data.n_users):
        for item in plays.rows[user][1 + user % 15 :]:
            plays[user, item] = 0
    varied = data.replace(plays=sp.csr_matrix(plays))
    varied.plays.eliminate_zeros()
    split = make_split(varied, "random", seed=0)
    for user, total in enumerate(np.diff(varied.plays.indptr)):
        got = [
            int(np.diff(m.indptr)[user]) for m in (split.train.plays, split.validation, split.test)
        ]
        assert got == _recbole_counts(int(total)), (user, total)


def test_leave_k_out_and_cold_users(data):
    split = make_split(data, "leave-k-out", seed=0, k=2)
    test_counts = np.diff(split.test.indptr)
    assert set(test_counts.tolist()) == {2}
    cold = make_split(data, "cold-users", seed=0, given=3)
    cold_users = cold.test_users
    assert len(cold_users) == 10
    assert (np.diff(cold.train.plays.indptr)[cold_users] == 3).all()


def test_leakage_check_refuses_shared_plays_and_leaked_tags(data):
    split = make_split(data, "random", seed=0)
    leaky = split.train.replace(plays=split.train.plays + split.test)
    with pytest.raises(LeakageError, match="refusing to evaluate"):
        check_no_leakage(leaky, split.test)
    with pytest.raises(LeakageError, match="tag assignments"):
        check_no_leakage(split.train.replace(tag_events=data.tag_events), split.test)
    with pytest.raises(LeakageError):
        check_no_leakage(data.plays, split.test)


def test_unknown_split_and_empty_data_are_input_errors(data):
    with pytest.raises(InputError, match="unknown split"):
        make_split(data, "bogus")
    empty = data.replace(plays=sp.csr_matrix(data.plays.shape, dtype=np.float32))
    with pytest.raises(InputError, match="no listens"):
        make_split(empty, "random")


def test_cold_items_by_artist_make_whole_artists_cold(data):
    import pandas as pd

    artist = [f"artist-{i // 4}" for i in range(data.n_items)]  # 4 tracks each
    artist[7] = None  # no artist: its own group
    grouped = data.replace(item_meta=pd.DataFrame({"artist": artist}))
    split = make_split(grouped, "cold-items", seed=3, by="artist", validation_fraction=0.1)
    played = np.flatnonzero(data.item_play_counts() > 0)
    cold, val = split.candidates, split.validation_candidates
    assert len(cold) >= round(0.2 * len(played)) and len(val) >= round(0.1 * len(played))
    assert not np.intersect1d(cold, val).size
    for items in (cold, val):
        for name in {artist[i] for i in items} - {None}:
            siblings = [i for i in played if artist[i] == name]
            assert np.isin(siblings, items).all(), name  # no sibling left in training
    assert split.train.plays[:, cold].nnz == 0
    assert split.params["by"] == "artist" and split.params["n_cold_items"] == len(cold)
    again = make_split(grouped, "cold-items", seed=3, by="artist", validation_fraction=0.1)
    assert np.array_equal(again.candidates, cold)
    other = make_split(grouped, "cold-items", seed=4, by="artist")
    assert not np.array_equal(other.candidates, cold)


def test_cold_items_by_artist_need_artists_and_a_known_unit(data):
    with pytest.raises(InputError, match="no artist per item"):
        make_split(data.replace(item_meta=None), "cold-items", by="artist")
    with pytest.raises(InputError, match="choose one of item, artist"):
        make_split(data, "cold-items", by="album")
