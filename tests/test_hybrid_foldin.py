"""Fold-in at serving time: users loaded into the database after `recsys train` get recommendations.

The world is the two-taste catalogue of test_hybrid_recommender (even users: jazz, odd:
metal), loaded through `recsys etl csv` and trained once per module with `recsys train`;
then a second ETL batch brings users the bundle has never seen.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from recommender.hybrid.foldin import fold_history, fold_in_profile
from recommender.hybrid.recommender import HybridRecommender
from recommender.services.bundles import current_recommender
from tests.conftest import run_cli
from tests.test_hybrid_recommender import genre_of, make_dataset

JAZZ_PLAYS = {f"t{i:02d}": 3 + i % 5 for i in (0, 2, 4, 6, 8, 10, 12, 14)}


def history_of(dataset, user: int) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """A trained user's plays and tag assignments, by external ids."""
    row = dataset.plays[user]
    plays = {
        dataset.items.id_of(int(i)): float(c) for i, c in zip(row.indices, row.data, strict=True)
    }
    ev = dataset.tag_events
    mine = ev.user == user
    tagged = [
        (dataset.items.id_of(int(i)), dataset.tags.id_of(int(t)))
        for i, t in zip(ev.item[mine], ev.tag[mine], strict=True)
    ]
    return plays, tagged


def write_csvs(folder: Path, rows: list[tuple[str, str, float]], tags: list[tuple[str, str, str]]):
    folder.mkdir(parents=True, exist_ok=True)
    listens = folder / "listens.csv"
    listens.write_text("user,track,count\n" + "".join(f"{u},{t},{int(c)}\n" for u, t, c in rows))
    tagged = folder / "tags.csv"
    tagged.write_text("user,track,tag\n" + "".join(f"{u},{t},{g}\n" for u, t, g in tags))
    return listens, tagged


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    dataset = make_dataset()
    root = tmp_path_factory.mktemp("foldin")
    home = root / "home"
    env = dict(os.environ)
    env.update(RECSYS_HOME=str(home), RECSYS_DATABASE_URL=f"sqlite:///{home / 'recsys.db'}")
    env.pop("RECSYS_DEBUG", None)

    rows, tags = [], []
    for u in range(dataset.n_users):
        plays, tagged = history_of(dataset, u)
        user = dataset.users.id_of(u)
        rows += [(user, t, c) for t, c in plays.items()]
        tags += [(user, t, g) for t, g in tagged]
    catalogue = root / "catalogue.csv"
    catalogue.write_text(
        "track,title,artist\n"
        + "".join(
            f"{dataset.items.id_of(i)},{dataset.item_meta.title[i]},{dataset.item_meta.artist[i]}\n"
            for i in range(dataset.n_items)
        )
    )
    listens, tagged = write_csvs(root / "before", rows, tags)
    loaded = run_cli(
        ["-q", "etl", "csv", "--listens", str(listens), "--tags", str(tagged),
         "--catalogue", str(catalogue)],
        env,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    trained = run_cli(["-q", "train", "--no-validate", "--factors", "8", "--json"], env)
    assert trained.returncode == 0, trained.stderr

    # after training: a jazz newcomer (one play on a track the bundle has never seen),
    # a twin of trained user u00 (same plays, same tags), and a user with only new tracks
    twin_plays, twin_tags = history_of(dataset, 0)
    late_rows = [("newbie", t, c) for t, c in JAZZ_PLAYS.items()] + [("newbie", "t-new", 50)]
    late_rows += [("twin", t, c) for t, c in twin_plays.items()]
    late_rows += [("latecomer", "t-new", 4)]
    late_tags = [("newbie", "t00", "jazz"), ("newbie", "t02", "piano")]
    late_tags += [("twin", t, g) for t, g in twin_tags]
    listens, tagged = write_csvs(root / "after", late_rows, late_tags)
    loaded = run_cli(["-q", "etl", "csv", "--listens", str(listens), "--tags", str(tagged)], env)
    assert loaded.returncode == 0, loaded.stderr
    rec = current_recommender(home / "models")
    return {"env": env, "dataset": dataset, "rec": rec}


def recommend_json(world: dict, *args: str) -> list[dict]:
    result = run_cli(["recommend", *args, "--json"], world["env"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_user_loaded_after_training_gets_recommendations_from_their_taste(world):
    rec = world["rec"]
    assert "newbie" not in rec.users and "t-new" not in rec.items  # both arrived after training
    results = recommend_json(world, "--user", "newbie", "-n", "8", "--explain")
    assert len(results) == 8
    ids = [r["item_id"] for r in results]
    assert all(genre_of(i) == "jazz" for i in ids), ids
    assert not set(ids) & set(JAZZ_PLAYS), "played tracks must be filtered"
    assert {r["source"] for r in results} <= {"cf", "content", "hybrid"}
    played_labels = {f"Jazz Band - Song {int(t[1:])}" for t in JAZZ_PLAYS}
    for r in results:
        why = r["explanation"]
        assert why["close_to"] and set(why["close_to"]) <= played_labels, why
    tags = {t["tag"] for r in results for t in r["explanation"]["tags"]}
    assert tags == {"jazz"}, tags  # "piano" is new since training: not in the bundle's tags


def test_folded_in_user_ranks_like_the_trained_user_with_the_same_history(world):
    trained = recommend_json(world, "--user", "u00", "-n", "10")
    twin = recommend_json(world, "--user", "twin", "-n", "10")
    assert "twin" not in world["rec"].users
    overlap = {r["item_id"] for r in trained} & {r["item_id"] for r in twin}
    assert len(overlap) >= 9, (trained, twin)
    by_id = {r["item_id"]: r for r in twin}
    for r in trained:
        if r["item_id"] in by_id:
            assert abs(r["score"] - by_id[r["item_id"]]["score"]) < 0.05
            assert r["source"] == by_id[r["item_id"]]["source"]


def test_tag_filter_and_include_listened_apply_to_folded_users(world):
    rec = world["rec"]
    kept = recommend_json(world, "--user", "newbie", "--tag", "jazz", "-n", "20")
    jazz = rec.tag_weights[:, rec.tags.index_of("jazz")].toarray().ravel()
    carrying = {rec.items.id_of(int(i)) for i in np.flatnonzero(jazz)}
    assert kept and {r["item_id"] for r in kept} <= carrying
    with_played = recommend_json(world, "--user", "newbie", "--include-listened", "-n", "20")
    assert set(JAZZ_PLAYS) & {r["item_id"] for r in with_played}


def test_unknown_everywhere_is_one_line_and_exit_2(world):
    result = run_cli(["recommend", "--user", "nobody"], world["env"])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown user 'nobody'" in lines[0] and "--tags" in lines[0], lines
    assert "Traceback" not in result.stderr


def test_history_on_tracks_the_model_never_saw_says_to_retrain(world):
    result = run_cli(["recommend", "--user", "latecomer"], world["env"])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "recsys train" in lines[0] and "--tags" in lines[0], lines


# ---- the pure API, on the in-memory dataset -------------------------------------------------
@pytest.fixture(scope="module")
def als() -> HybridRecommender:
    return HybridRecommender.train(make_dataset(), model="als", factors=8, seed=0)


@pytest.fixture(scope="module")
def knn() -> HybridRecommender:
    return HybridRecommender.train(make_dataset(), model="knn", seed=0)


def test_folded_profile_is_the_trained_profile(als):
    dataset = make_dataset()
    space = als.scorer.space
    for user in range(dataset.n_users):
        plays, tagged = history_of(dataset, user)
        folded = fold_history(plays, tagged, items=als.items, tags=als.tags)
        profile = fold_in_profile(
            space, folded.plays, folded.applied, applied_weight=als.scorer.content.applied_weight
        )
        np.testing.assert_allclose(
            profile.toarray(), space.user_profiles[user].toarray(), rtol=1e-5, atol=1e-6
        )


def test_cf_vector_is_recovered_from_fold_in_scores(als):
    scorer, rows = als.scorer, np.arange(0, 40, 3)
    recovered = scorer.fold_in_factors(scorer.cf_scores(rows))
    np.testing.assert_allclose(recovered, scorer.user_factors[rows], rtol=1e-3, atol=1e-4)


def test_item_knn_fold_in_is_exact(knn):
    dataset = make_dataset()
    for user in (0, 1, 7):
        plays, tagged = history_of(dataset, user)
        trained = knn.recommend(dataset.users.id_of(user), n=10, explain=True)
        folded = knn.recommend_history(plays, tagged, n=10, explain=True)
        assert folded == trained


def test_als_fold_in_is_close_to_the_trained_user(als):
    dataset = make_dataset()
    for user in range(0, dataset.n_users, 5):
        plays, tagged = history_of(dataset, user)
        trained = als.recommend(dataset.users.id_of(user), n=10)
        folded = als.recommend_history(plays, tagged, n=10)
        assert {r.item_id for r in trained} == {r.item_id for r in folded}
        gap = max(abs(a.score - b.score) for a, b in zip(trained, folded, strict=True))
        assert gap < 0.05, gap


def test_unknown_tracks_and_tags_are_ignored(als):
    plain = als.recommend_history(JAZZ_PLAYS, n=10)
    noisy = als.recommend_history(
        {**JAZZ_PLAYS, "never-seen": 100}, [("never-seen", "no-such-tag")], n=10
    )
    assert noisy == plain
    assert all(genre_of(r.item_id) == "jazz" for r in plain)


def test_empty_history_is_an_input_error(als):
    from recommender.errors import InputError

    with pytest.raises(InputError, match="recsys train"):
        als.recommend_history({"never-seen": 3})


# ---- the database lookup, on SQLite and PostgreSQL -------------------------------------------
def test_user_history_reads_listens_and_tags_by_external_id(engine, tmp_path):
    from etl.csv_source import load_csv
    from recommender.services.history import user_history

    listens, tagged = write_csvs(
        tmp_path,
        [("ann", "t1", 3), ("ann", "t2", 1), ("bob", "t1", 7)],
        [("ann", "t2", "jazz"), ("bob", "t1", "metal")],
    )
    load_csv(engine, listens=listens, tags=tagged)
    ann = user_history(engine, "ann")
    assert ann is not None and ann.plays == {"t1": 3.0, "t2": 1.0}
    assert ann.tagged == [("t2", "jazz")] and not ann.empty
    assert user_history(engine, "nobody") is None
