"""End to end on the demo: `recsys etl demo`, audio features, `recsys train`, then queries.

Built once per module (SQLite, 60 users x 100 tracks, 3-second clips) to stay fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

DEMO_USERS, DEMO_TRACKS = 60, 100


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("hybrid-demo") / "home"
    env = dict(os.environ)
    env.update(RECSYS_HOME=str(home), RECSYS_DATABASE_URL=f"sqlite:///{home / 'recsys.db'}")
    env.pop("RECSYS_DEBUG", None)
    loaded = run_cli(
        [
            "-q",
            "etl",
            "demo",
            "--users",
            str(DEMO_USERS),
            "--tracks",
            str(DEMO_TRACKS),
            "--clip-seconds",
            "3",
            "--workers",
            "2",
        ],
        env,
    )
    assert loaded.returncode == 0, loaded.stderr
    from etl.audio_scan import scan_catalogue
    from recommender.storage.engine import make_engine

    engine = make_engine(env["RECSYS_DATABASE_URL"])
    scanned = scan_catalogue(engine, workers=2)  # a no-op where `etl demo` already scanned
    engine.dispose()
    assert scanned.extracted + scanned.skipped == DEMO_TRACKS and not scanned.failed, scanned
    trained = run_cli(["-q", "train", "--json"], env)
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    truth = json.loads((home / "demo" / "truth.json").read_text())
    return {"env": env, "home": home, "report": report, "truth": truth}


def recommend_json(demo: dict, *args: str) -> list[dict]:
    result = run_cli(["recommend", *args, "--json"], demo["env"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def taste_match(truth: dict, user: str, track: str) -> float:
    taste = truth["users"][user]["taste"]
    return float(np.mean([taste.get(tag, 0.0) for tag in truth["tracks"][track]["tags"]]))


def test_train_reports_bundle_tagger_and_metrics(demo):
    report = demo["report"]
    assert report["tagger"] and report["tagger"]["predicted_tracks"] == DEMO_TRACKS
    assert report["cold_items"] == demo["truth"]["counts"]["cold_tracks"]
    assert Path(report["path"]).is_dir()
    current = demo["home"] / "models" / "recommender" / "current"
    assert current.read_text().strip() == report["version"]
    assert report["metrics"]["hybrid"]["ndcg@10"] > 0
    manifest = json.loads((Path(report["path"]) / "manifest.json").read_text())
    assert manifest["ranker"] == "hybrid"  # no re-ranker trained unless asked (--reranker)
    assert manifest["ranker_reason"] == "blend (re-ranker not trained (use --reranker))"
    assert "rerank" not in manifest["metrics"]


def test_cold_tracks_reach_users_whose_tastes_match_their_audio(demo):
    from recommender.services.bundles import current_recommender

    truth = demo["truth"]
    rec = current_recommender(demo["home"] / "models")
    cold = {t for t, info in truth["tracks"].items() if info["cold"]}
    shown, better = 0, 0
    for user in sorted(truth["users"]):
        for r in rec.recommend(user, n=10):
            if r.item_id in cold:
                shown += 1
                assert r.source == "content"
                mean_cold = np.mean([taste_match(truth, user, t) for t in cold])
                better += taste_match(truth, user, r.item_id) > mean_cold
    assert shown >= DEMO_USERS // 2, f"only {shown} cold tracks in {DEMO_USERS} top-10 lists"
    assert better / shown >= 0.8, f"{better}/{shown} recommended cold tracks fit the user's taste"


def test_recommend_cli_explains_with_real_tags_and_played_items(demo):
    truth = demo["truth"]
    results = recommend_json(demo, "--user", "user-0001", "-n", "5", "--explain")
    assert len(results) == 5
    played_labels = {f"{t['artist']} - {t['title']}" for t in truth["tracks"].values()}
    vocabulary = set(truth["vocabulary"]["informative"])
    for r in results:
        assert r["source"] in ("cf", "content", "hybrid")
        why = r["explanation"]
        assert why["close_to"] and set(why["close_to"]) <= played_labels
        assert {t["tag"] for t in why["tags"]} <= vocabulary  # never "favorites" or "seen live"
    table = run_cli(["recommend", "--user", "user-0001", "-n", "3", "--explain"], demo["env"])
    assert table.returncode == 0 and "why" in table.stdout


def test_tag_filter_keeps_only_items_carrying_the_tag(demo):
    from recommender.services.bundles import current_recommender

    rec = current_recommender(demo["home"] / "models")
    results = recommend_json(demo, "--user", "user-0002", "-n", "10", "--tag", "jazz")
    assert results
    carriers = set(rec.items.ids[rec.tag_weights[:, rec.tags.index_of("jazz")].nonzero()[0]])
    assert {r["item_id"] for r in results} <= carriers
    both = recommend_json(demo, "--user", "user-0002", "--tag", "jazz", "--tag", "piano")
    piano = set(rec.items.ids[rec.tag_weights[:, rec.tags.index_of("piano")].nonzero()[0]])
    assert {r["item_id"] for r in both} <= carriers & piano
    spelled = recommend_json(demo, "--user", "user-0002", "-n", "10", "--tag", "  JAZZ ")
    assert spelled == results  # tags are normalised exactly as the loader stored them


def test_predicted_tags_count_from_the_taggers_own_thresholds(demo):
    """An untagged track carries exactly the predicted tags whose probability reaches the
    tagger's threshold for that tag (its best-F1 one, stored in the tagger bundle)."""
    from recommender.services.bundles import current_recommender, current_tagger
    from recommender.services.datasets import load_dataset
    from recommender.storage.engine import make_engine

    rec = current_recommender(demo["home"] / "models")
    tagger = current_tagger(demo["home"] / "models")
    engine = make_engine(demo["env"]["RECSYS_DATABASE_URL"])
    data = load_dataset(engine, predicted_model_version=tagger.model_version)
    engine.dispose()
    assert tagger.thresholds and len(set(tagger.thresholds.values())) > 1
    untagged = np.flatnonzero(data.item_tag_counts().getnnz(axis=1) == 0)
    assert len(untagged) >= 10
    predicted = data.predicted_tags.toarray()
    bars = np.array([tagger.thresholds.get(t, 0.5) for t in data.tags.ids])
    rows = [rec.items.index_of(t) for t in data.items.ids[untagged]]
    cols = [rec.tags.index_of(t) for t in data.tags.ids]
    kept = rec.tag_weights[rows][:, cols].toarray()
    expected = np.where(predicted[untagged] >= bars, predicted[untagged], 0)
    np.testing.assert_allclose(kept, expected, rtol=1e-6)
    assert (expected > 0).any() and ((predicted[untagged] >= 0.5) != (expected > 0)).any()


def test_new_user_from_tags(demo):
    truth = demo["truth"]
    results = recommend_json(demo, "--tags", "classical,piano", "-n", "5")
    assert len(results) == 5
    assert all({"classical", "piano"} & set(truth["tracks"][r["item_id"]]["tags"]) for r in results)


def test_audience_of_a_cold_track_matches_tastes(demo):
    truth = demo["truth"]
    track = next(t for t, info in sorted(truth["tracks"].items()) if info["cold"])
    result = run_cli(["audience", "--track", track, "-n", "10", "--json"], demo["env"])
    assert result.returncode == 0, result.stderr
    members = json.loads(result.stdout)
    assert len(members) == 10 and all(m["source"] == "content" for m in members)
    chosen = np.mean([taste_match(truth, m["user_id"], track) for m in members])
    everyone = np.mean([taste_match(truth, u, track) for u in truth["users"]])
    assert chosen > everyone


def test_similar_and_user_tags(demo):
    truth = demo["truth"]
    cold = next(t for t, info in sorted(truth["tracks"].items()) if info["cold"])
    result = run_cli(["similar", "--track", cold, "-n", "5", "--json"], demo["env"])
    assert result.returncode == 0, result.stderr
    similar = json.loads(result.stdout)
    assert similar and all(r["source"] == "content" for r in similar)
    genre = truth["tracks"][cold]["genre"]
    assert sum(truth["tracks"][r["item_id"]]["genre"] == genre for r in similar) >= 3
    tags = run_cli(["user-tags", "--user", "user-0001", "-n", "5", "--json"], demo["env"])
    assert tags.returncode == 0, tags.stderr
    names = [t["tag"] for t in json.loads(tags.stdout)]
    assert names and not {"favorites", "seen live", "awesome"} & set(names)


@pytest.mark.parametrize(
    "args, message",
    [
        (["recommend", "--user", "nobody"], "unknown user 'nobody'"),
        (["similar", "--track", "no-such-track"], "unknown track 'no-such-track'"),
        (["recommend", "--user", "user-0001", "--tag", "bagpipes"], "unknown tag 'bagpipes'"),
        (["recommend"], "exactly one of --user"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(demo, args, message):
    result = run_cli(args, demo["env"])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in result.stderr


def test_batch_gives_every_user_the_list_recommend_gives(demo, tmp_path):
    """`recommend --all` (local) and `recommend --user` agree on every demo user: same
    items, same order, same scores, same sources (the Spark engine: test_spark_engine)."""
    import pyarrow.parquet as pq

    out = tmp_path / "recs.parquet"
    result = run_cli(["recommend", "--all", "--out", str(out), "--json"], demo["env"])
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["users"] == DEMO_USERS and summary["rows"] == 10 * DEMO_USERS
    table = pq.read_table(out).to_pylist()
    batch: dict[str, list] = {}
    for row in table:
        batch.setdefault(row["user_id"], []).append(row)
    assert sorted(batch) == sorted(demo["truth"]["users"])
    from recommender.services.bundles import current_recommender

    rec = current_recommender(demo["home"] / "models")
    for user, rows in batch.items():
        assert [r["rank"] for r in rows] == list(range(1, 11))
        single = rec.recommend(user, n=10)
        assert [(r["track_id"], round(r["score"], 4), r["source"]) for r in rows] == [
            (s.item_id, s.score, s.source) for s in single
        ], user
        one = rec.rank(np.array([rec.users.index_of(user)]), n=10)
        assert np.array_equal(one.scores[0], np.array([r["score"] for r in rows], np.float32))
    cli = recommend_json(demo, "--user", "user-0053", "-n", "10")
    assert [r["item_id"] for r in cli] == [r["track_id"] for r in batch["user-0053"]]


def test_missing_and_corrupt_bundle_say_run_recsys_train(demo, tmp_path):
    env = dict(demo["env"], RECSYS_HOME=str(tmp_path / "empty"))
    result = run_cli(["recommend", "--user", "user-0001"], env)
    assert result.returncode == 2 and "run `recsys train`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    broken = tmp_path / "broken"
    shutil.copytree(demo["home"] / "models", broken / "models")
    bundle = broken / "models" / "recommender" / demo["report"]["version"]
    (bundle / "arrays" / "plays_data.npy").write_bytes(b"not an array")
    result = run_cli(
        ["recommend", "--user", "user-0001"], dict(demo["env"], RECSYS_HOME=str(broken))
    )
    assert result.returncode == 2 and "run `recsys train`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_recommend_does_not_import_lightgbm_or_librosa(demo):
    code = (
        "import sys\nfrom recommender.cli.app import main\n"
        "code = None\n"
        "try:\n    main(['recommend', '--user', 'user-0001', '--json'])\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        "heavy = sorted(m for m in ('lightgbm', 'librosa', 'sklearn') if m in sys.modules)\n"
        "print('HEAVY', heavy, 'EXIT', code, file=sys.stderr)\n"
    )
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", code], env=demo["env"], capture_output=True, text=True
    )
    assert "HEAVY [] EXIT 0" in result.stderr, result.stderr
    assert json.loads(result.stdout), "recommend printed no recommendations"


# ---- the tag filter through the CLI: the hand-counted catalogue of test_hybrid_tagfilter ----
@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """test_hybrid_tagfilter's crowd tags and plays loaded with `recsys etl csv` and trained
    (no audio, so no predicted tags): rock is carried by i1 and i2 (i0's and i3's single
    "rock" are strays), jazz by i2 and i3, pop by i1, electronic by i0."""
    from tests.test_hybrid_tagfilter import N_ITEMS, N_USERS, TAGS, crowd_events, plays_of

    root = tmp_path_factory.mktemp("tagged")
    home = root / "home"
    env = dict(os.environ)
    env.update(RECSYS_HOME=str(home), RECSYS_DATABASE_URL=f"sqlite:///{home / 'recsys.db'}")
    env.pop("RECSYS_DEBUG", None)
    (root / "listens.csv").write_text(
        "user,track,count\n"
        + "".join(f"u{u},i{i},{c}\n" for u in range(N_USERS) for i, c in plays_of(u).items())
    )
    (root / "tags.csv").write_text(
        "user,track,tag\n" + "".join(f"u{u},i{i},{TAGS[t]}\n" for u, i, t in crowd_events())
    )
    (root / "catalogue.csv").write_text(
        "track,title,artist\n" + "".join(f"i{i},Song {i},Band {i}\n" for i in range(N_ITEMS))
    )
    files = ["--listens", "listens.csv", "--tags", "tags.csv", "--catalogue", "catalogue.csv"]
    loaded = run_cli(["-q", "etl", "csv", *[str(root / f) if "." in f else f for f in files]], env)
    assert loaded.returncode == 0, loaded.stderr
    trained = run_cli(["-q", "train", "--no-validate", "--factors", "4", "--json"], env)
    assert trained.returncode == 0, trained.stderr
    return {"env": env, "root": root}


def listed(world: dict, *args: str) -> list[str]:
    return sorted(r["item_id"] for r in recommend_json(world, "--user", "u0", "-n", "10", *args))


def test_repeated_tag_is_and_any_tag_is_or(tagged):
    everything = ("--include-listened",)
    assert listed(tagged, "--tag", "rock", *everything) == ["i1", "i2"]
    assert listed(tagged, "--tag", "rock", "--tag", "jazz", *everything) == ["i2"]
    assert listed(tagged, "--any-tag", "rock", "--any-tag", "jazz", *everything) == [
        "i1",
        "i2",
        "i3",
    ]
    both = ("--tag", "rock", "--any-tag", "jazz", "--any-tag", "pop", *everything)
    assert listed(tagged, *both) == ["i1", "i2"]
    assert listed(tagged, "--tag", "rock") == ["i2"]  # u0 played i0 and i1
    from recommender.hybrid.configs import TagFilterConfig

    help_text = re.sub(r"[│\s]+", " ", run_cli(["recommend", "--help"], tagged["env"]).stdout)
    assert "repeat for AND" in help_text and "--any-tag" in help_text
    defaults = TagFilterConfig()  # the help states the config's defaults
    assert f"min_weight, {defaults.min_weight:g})" in help_text
    assert f"(else {defaults.min_probability:g})" in help_text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--user", "u0", "--tag", "electronic", "--tag", "jazz"],
            "error: no item carries electronic and jazz (items carrying each alone: electronic 1,"
            " jazz 2, counting a crowd tag from weight 0.25",
        ),
        (
            ["--user", "u1", "--tag", "rock", "--tag", "jazz"],
            "error: the one item carrying rock and jazz is already played by u1;"
            " add --include-listened",
        ),
        (["--tags", "rock", "--any-tag", "jazz"], "error: --tag and --any-tag filter a user's"),
        (["--user", "u0", "--any-tag", "bagpipes"], "error: unknown tag 'bagpipes'"),
    ],
)
def test_a_filter_that_lists_nothing_says_why(tagged, args, message):
    result = run_cli(["recommend", *args], tagged["env"])
    assert result.returncode == 2 and not result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines


def test_batch_filters_as_recommend_does(tagged):
    import pyarrow.parquet as pq

    out = tagged["root"] / "filtered.parquet"
    both = ["--tag", "rock", "--any-tag", "jazz", "--any-tag", "pop"]
    result = run_cli(["recommend", "--all", "--out", str(out), "-n", "3", *both], tagged["env"])
    assert result.returncode == 0, result.stderr
    rows = pq.read_table(out).to_pylist()
    assert {r["track_id"] for r in rows} == {"i1", "i2"}
    for user in ("u3", "u4", "u7"):  # played i3 and i0, i0 and i1, i3 and i0
        batch = [(r["track_id"], r["score"]) for r in rows if r["user_id"] == user]
        single = recommend_json(tagged, "--user", user, "-n", "3", *both)
        assert batch == [(r["item_id"], pytest.approx(r["score"], abs=1e-4)) for r in single]
    assert not [r for r in rows if r["user_id"] == "u1"]  # played both carriers: no rows
    nothing = run_cli(
        ["recommend", "--all", "--out", str(out), "--tag", "electronic", "--tag", "pop"],
        tagged["env"],
    )
    assert nothing.returncode == 2 and "no item carries electronic and pop" in nothing.stderr
