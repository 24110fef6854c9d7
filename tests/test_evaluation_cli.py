"""`recsys evaluate` as a user runs it: JSON schema, determinism, report, clear input errors."""

import json
import os

import numpy as np
import pytest
from sqlalchemy import insert

from recommender.data.synthetic import synthetic_dataset
from recommender.storage.schema import Listen, Tag, TagAssignment, Track, User
from tests.conftest import run_cli


def store(engine, data) -> None:
    """Write a synthetic Dataset into the database with the schema's own tables."""
    plays = data.plays.tocoo()
    stamps = data.last_played
    with engine.begin() as conn:
        conn.execute(
            insert(User), [{"id": i + 1, "external_id": u} for i, u in enumerate(data.users.ids)]
        )
        conn.execute(
            insert(Track),
            [{"id": i + 1, "external_id": t, "title": t} for i, t in enumerate(data.items.ids)],
        )
        conn.execute(insert(Tag), [{"id": i + 1, "name": t} for i, t in enumerate(data.tags.ids)])
        conn.execute(
            insert(Listen),
            [
                {
                    "user_id": int(u) + 1,
                    "track_id": int(i) + 1,
                    "play_count": int(c),
                    "last_played": int(stamps[u, i]),
                }
                for u, i, c in zip(plays.row, plays.col, plays.data, strict=True)
            ],
        )
        events = data.tag_events
        conn.execute(
            insert(TagAssignment),
            [
                {"user_id": int(u) + 1, "track_id": int(i) + 1, "tag_id": int(t) + 1}
                for u, i, t in zip(events.user, events.item, events.tag, strict=True)
            ],
        )


@pytest.fixture
def loaded_env(engine, recsys_env):
    store(
        engine, synthetic_dataset(n_users=40, n_items=50, plays_per_user=10, cold_items=3, seed=9)
    )
    return recsys_env


def test_evaluate_json_schema_report_and_determinism(loaded_env, tmp_path):
    report = tmp_path / "out" / "eval.md"
    args = [
        "evaluate",
        "--split",
        "cold-items",
        "--models",
        "pop,knn",
        "-n",
        "5",
        "--seed",
        "7",
        "--json",
    ]
    proc = run_cli([*args, "--report", str(report)], loaded_env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {
        "split",
        "split_params",
        "k",
        "ks",
        "seed",
        "data",
        "users_evaluated",
        "models",
        "notes",
        "significance",
    }
    assert result["split"] == "cold-items" and result["k"] == 5 and result["seed"] == 7
    assert result["split_params"]["fraction"] == 0.2
    assert set(result["data"]) == {
        "fingerprint",
        "users",
        "items",
        "train_interactions",
        "validation_interactions",
        "test_interactions",
        "train_tag_assignments",
        "candidate_items",
    }
    assert result["data"]["users"] == 40 and result["data"]["items"] == 53
    assert result["data"]["candidate_items"] == 10  # 20% of the 50 played items
    assert 0 < result["users_evaluated"] <= 40
    assert [m["name"] for m in result["models"]] == [
        "random",
        "pop",
        "tag-pop",
        "tag-cosine",
        "knn",
    ]
    expected = {
        f"{name}@5"
        for name in (
            "precision",
            "recall",
            "ndcg",
            "map",
            "hit",
            "coverage",
            "novelty",
            "avg_popularity",
        )
    }
    for model in result["models"]:
        assert set(model) == {
            "name",
            "metrics",
            "fit_seconds",
            "rank_seconds",
            "constant_score_users",
            "ci",  # no "vs_reference": the default reference, als, was not evaluated
        }
        assert set(model["metrics"]) == expected
        assert all(
            0 <= model["metrics"][f"{m}@5"] <= 1
            for m in ("precision", "recall", "ndcg", "map", "hit", "coverage")
        )
    text = report.read_text()
    assert "# Offline evaluation: cold-items split" in text and "| knn" in text
    # in this database every tag on a cold item came from one of its (held-out) listeners, so
    # the tag models have nothing to go on either: the report must flag them, not rank them
    by_name = {m["name"]: m for m in result["models"]}
    assert by_name["knn"]["constant_score_users"] == 1.0
    assert by_name["random"]["constant_score_users"] == 0.0
    assert "| knn* |" in text and "equal scores for every candidate item" in text
    assert "recsys evaluate --split cold-items" in text

    again = json.loads(run_cli(args, loaded_env).stdout)
    strip = lambda r: [(m["name"], m["metrics"]) for m in r["models"]]  # noqa: E731
    assert strip(again) == strip(result)
    other_seed = json.loads(run_cli([*args[:-3], "--seed", "8", "--json"], loaded_env).stdout)
    assert strip(other_seed) != strip(result)


def test_evaluate_table_by_default(loaded_env):
    proc = run_cli(["evaluate", "--models", "pop", "--top", "3"], loaded_env)
    assert proc.returncode == 0, proc.stderr
    assert "random split" in proc.stdout and "NDCG@3" in proc.stdout
    assert np.all([name in proc.stdout for name in ("random", "pop")])
    assert "95% CI" in proc.stdout and "Holm p" not in proc.stdout  # no als: no paired tests


def test_evaluate_intervals_and_paired_tests(loaded_env, tmp_path):
    args = ["evaluate", "--models", "als,knn", "--reference", "random", "--seed", "3"]
    result = json.loads(run_cli([*args, "--alpha", "0.1", "--json"], loaded_env).stdout)
    settings = result["significance"]
    assert settings["reference"] == "random" and settings["alpha"] == 0.1
    assert settings["confidence"] == 0.9 and settings["resamples"] == 1000
    assert settings["users"] == result["users_evaluated"]
    rows = {model["name"]: model for model in result["models"]}
    assert list(rows) == ["random", "pop", "als", "knn"] and "vs_reference" not in rows["random"]
    for name in ("pop", "als", "knn"):
        test = rows[name]["vs_reference"]["ndcg@10"]
        low, high = rows[name]["ci"]["ndcg@10"]
        assert low <= rows[name]["metrics"]["ndcg@10"] <= high
        assert set(test) == {"difference", "ci", "p", "p_holm", "significant"}
        assert test["difference"] == pytest.approx(
            rows[name]["metrics"]["ndcg@10"] - rows["random"]["metrics"]["ndcg@10"]
        )
        assert test["p"] <= test["p_holm"] <= 1
    again = json.loads(run_cli([*args, "--alpha", "0.1", "--json"], loaded_env).stdout)
    assert [m["ci"] for m in again["models"]] == [m["ci"] for m in result["models"]]

    report = tmp_path / "eval.md"
    proc = run_cli([*args, "--bootstrap", "200", "--report", str(report)], loaded_env)
    assert proc.returncode == 0, proc.stderr
    assert "better/worse than random over the same" in proc.stdout
    assert "\u0394 random" in proc.stdout and "Holm p" in proc.stdout
    text = report.read_text()
    assert "## Confidence intervals and paired tests" in text and "200 resamples" in text
    assert "--reference random" in text


def test_reference_must_be_a_row(loaded_env):
    proc = run_cli(["evaluate", "--models", "pop", "--reference", "als"], loaded_env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: --reference: 'als' is not a row of this evaluation; choose one of random, pop"
        " (or add it to --models)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "sideways"], "'--split': 'sideways' is not one of 'random', 'leave-k-out'"),
        (["--models", "pop,nope"], "unknown model 'nope'"),
        (["--models", ","], "--models is empty"),
        (["--taggers", "linear,cnn9"], "--taggers: unknown tagger 'cnn9'; choose from linear"),
        (["--taggers", " , "], "--taggers is empty"),
        (["--cold-by", "artist"], "--cold-by applies to --split cold-items only"),
        (
            ["--split", "cold-items", "--cold-by", "album"],
            "'--cold-by': 'album' is not one of 'item', 'artist'",
        ),
        (["--alpha", "1.5"], "--alpha: 1.5 is not between 0 and 1; give e.g. 0.05"),
        (["--bootstrap", "10"], "--bootstrap: 10 resamples are too few"),
        (["--reference", "nope"], "--reference: 'nope' is not a row of this evaluation"),
        (
            ["--taggers", "linear", "--reference", "content"],
            "choose one of random, pop, als, bpr, knn, content (linear), hybrid (linear)",
        ),
    ],
)
def test_bad_options_are_one_line_and_exit_2(tmp_path, args, message):
    env = {
        **os.environ,
        "RECSYS_HOME": str(tmp_path),
        "RECSYS_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
    }
    proc = run_cli(["evaluate", *args], env)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_empty_database_says_what_to_do(recsys_env, engine):
    proc = run_cli(["evaluate", "--models", "pop"], recsys_env)
    assert proc.returncode == 2
    assert "no listens" in proc.stderr and "recsys etl" in proc.stderr


def test_taggers_need_audio_features(loaded_env):
    proc = run_cli(["evaluate", "--split", "cold-items", "--taggers", "linear"], loaded_env)
    assert proc.returncode == 2
    assert "no audio features" in proc.stderr and "recsys etl audio" in proc.stderr
