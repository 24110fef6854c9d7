"""`recsys tune` as a user runs it: the test part never matters, the settings it writes are
what `recsys train` trains with and records, and bad input is one line with exit 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from recommender.data.splits import random_split
from recommender.data.synthetic import synthetic_dataset
from recommender.evaluation.runner import without_predictions
from recommender.storage.engine import make_engine
from tests.conftest import run_cli
from tests.test_evaluation_cli import store

SEED = 1
TUNE = ["tune", "--model", "als", "--model", "hybrid", "--trials", "3", "--seed", str(SEED)]


def _data(*, marked: bool):
    """The synthetic store; `marked`: every play of the test part (of the seed's split) is
    multiplied by 1,000, which reshapes BM25 weights, popularity and ALS alike."""
    data = synthetic_dataset(n_users=40, n_items=50, plays_per_user=12, cold_items=3, seed=9)
    if not marked:
        return data
    test = random_split(without_predictions(data), seed=SEED).test.tocoo()
    plays = data.plays.tocsr(copy=True)
    plays[test.row, test.col] = np.asarray(plays[test.row, test.col]).ravel() * 1000
    return data.replace(plays=plays)


def _env(home: Path, *, marked: bool) -> dict[str, str]:
    url = f"sqlite:///{home / 'recsys.db'}"
    home.mkdir(parents=True)
    engine = make_engine(url)
    store(engine, _data(marked=marked))
    engine.dispose()
    env = {**os.environ, "RECSYS_HOME": str(home), "RECSYS_DATABASE_URL": url}
    env.pop("RECSYS_DEBUG", None)
    return env


def _empty_env(home: Path) -> dict[str, str]:
    """A home with an empty database (created by the command itself)."""
    return {
        **os.environ,
        "RECSYS_HOME": str(home),
        "RECSYS_DATABASE_URL": f"sqlite:///{home / 'r.db'}",
    }


def _search(search: dict) -> tuple:
    """What a search found, without when it ran or the fingerprint of the whole store."""
    return search["target"], search["best_params"], search["best_value"], search["trials"]


@pytest.mark.slow
def test_tuning_results_do_not_depend_on_the_test_part(tmp_path):
    runs = {}
    for marked in (False, True):
        proc = run_cli([*TUNE, "--json"], _env(tmp_path / str(marked), marked=marked))
        assert proc.returncode == 0, proc.stderr
        runs[marked] = json.loads(proc.stdout)["searches"]
    plain, marked = runs[False], runs[True]
    assert [s["target"] for s in plain] == ["als", "hybrid"]
    assert plain[0]["data"]["fingerprint"] != marked[0]["data"]["fingerprint"]  # it was planted
    assert [_search(s) for s in marked] == [_search(s) for s in plain]
    assert len(plain[0]["trials"]) == 3 and plain[0]["trials"][0]["params"]["factors"] == 64


@pytest.mark.slow
def test_recsys_train_trains_with_the_written_settings_and_records_the_search(tmp_path):
    env = _env(tmp_path / "home", marked=False)
    proc = run_cli(TUNE, env)
    assert proc.returncode == 0, proc.stderr
    config_path = tmp_path / "home" / "config.json"
    assert f"written to {config_path}" in proc.stdout
    written = json.loads(config_path.read_text())
    assert set(written) <= {"cf", "blend", "content", "tuning"} and set(written["tuning"]) == {
        "als",
        "hybrid",
    }
    als = written["tuning"]["als"]
    assert als["seed"] == SEED and len(als["trials"]) == 3 and als["metric"] == "ndcg@10"
    assert als["best_value"] == round(max(t["value"] for t in als["trials"]), 6)

    proc = run_cli(["train", "--json", "--seed", "4"], env)
    assert proc.returncode == 0, proc.stderr
    bundle = Path(json.loads(proc.stdout)["path"])
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["config"]["file"] == str(config_path)
    recorded = manifest["config"]["tuning"]
    assert set(recorded) == {"als", "hybrid"}
    assert recorded["als"]["same_data"] is True
    assert recorded["als"]["best_params"] == als["best_params"]
    assert recorded["als"]["data"]["fingerprint"] == manifest["data"]["fingerprint"]

    from recommender.hybrid.recommender import HybridRecommender

    hybrid = HybridRecommender.load(bundle).config.ranker.config
    assert hybrid.cf.name == "als"
    assert hybrid.cf.config.to_dict() == {**written["cf"]["als"], "num_threads": 0, "seed": 4}
    assert hybrid.blend.to_dict() == written.get("blend", hybrid.blend.to_dict())
    if "blend" not in written:  # the defaults kept validation's best: nothing else to see
        assert (
            written["tuning"]["hybrid"]["best_value"] == written["tuning"]["hybrid"]["start_value"]
        )

    # --factors on the command line still wins over the file
    proc = run_cli(["train", "--json", "--factors", "5", "--no-validate"], env)
    assert proc.returncode == 0, proc.stderr
    again = HybridRecommender.load(json.loads(proc.stdout)["path"]).config.ranker.config
    assert again.cf.config.factors == 5
    assert again.cf.config.regularization == written["cf"]["als"]["regularization"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "svd"], "'svd' is not one of als, bpr, knn, rp3beta, hybrid"),
        (["--trials", "0"], "'--trials'"),
        (["--timeout", "0"], "'--timeout'"),
        (["--seed", "x"], "'--seed'"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(tmp_path, args, message):
    env = _empty_env(tmp_path)
    proc = run_cli(["tune", *args], env)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [["tune"], ["train"]])
def test_a_misspelt_setting_in_the_config_file_is_one_line_and_exit_2(tmp_path, command):
    env = _empty_env(tmp_path)
    (tmp_path / "config.json").write_text('{"cf": {"als": {"factorz": 32}}}')
    proc = run_cli(command, env)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert str(tmp_path / "config.json") in line
    assert "unknown parameter(s) factorz for ALSConfig; known: alpha, factors," in line


def test_empty_database_says_what_to_do(tmp_path):
    env = _empty_env(tmp_path)
    proc = run_cli(["tune"], env)
    assert proc.returncode == 2
    assert "no listens to tune on" in proc.stderr and "recsys etl" in proc.stderr
