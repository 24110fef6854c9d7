"""The Spark engine in local mode on a small demo catalogue: ALS, batch top-N, audio features.

Skipped with the reason when Java or pyspark is missing, except under CI (CI=true),
where a missing Spark is a failure. One local[2] session serves every in-process
test; the CLI tests start their own, as a user's `recsys` would.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from sqlalchemy import Engine, text

from recommender.storage.engine import make_engine
from tests.conftest import require_spark, run_cli

pytestmark = [
    pytest.mark.spark,
    # pyspark's import-time notice; recsys never converts to pandas (the fixture enforces it)
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

DEMO = {"users": 80, "tracks": 100, "clip_seconds": 1.0, "seed": 0}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo catalogue with audio, loaded into SQLite: (home, database path)."""
    from etl.demo import load_demo

    home = tmp_path_factory.mktemp("spark-demo")
    db = home / "recsys.db"
    engine = make_engine(f"sqlite:///{db}")
    load_demo(engine, home, workers=1, **DEMO)
    engine.dispose()
    return home, str(db)


def _copy_db(demo: tuple[Path, str], tmp_path: Path) -> Engine:
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = tmp_path / "copy.db"
    shutil.copy(demo[1], target)
    return make_engine(f"sqlite:///{target}")


def test_spark_als_ndcg_close_to_implicit(spark, demo, tmp_path) -> None:
    from recommender.data.splits import make_split
    from recommender.evaluation.runner import evaluate_split
    from recommender.services.datasets import load_dataset

    dataset = load_dataset(_copy_db(demo, tmp_path))
    split = make_split(dataset, "random", seed=0)
    result = evaluate_split(["pop", "als", "spark-als"], split, k=10, seed=0)
    ndcg = {m["name"]: m["metrics"]["ndcg@10"] for m in result["models"]}
    print(f"NDCG@10 on the demo's random split: {ndcg}")
    assert abs(ndcg["spark-als"] - ndcg["als"]) <= 0.05
    assert ndcg["spark-als"] > ndcg["pop"] + 0.03  # it learned tastes, not just popularity


def test_spark_model_same_weighting_and_bundle_contract(spark, tmp_path) -> None:
    """Spark factors go through the normal bundle; fold-in and weighting stay local."""
    from recommender.core.bundle import read_bundle
    from recommender.core.registry import create
    from recommender.data.dataset import Dataset

    rng = np.random.default_rng(0)
    plays = sp.random(60, 40, density=0.15, random_state=rng, format="csr", dtype=np.float32)
    plays.data = np.ceil(plays.data * 30)
    data = Dataset.from_plays(plays)
    model = create("spark-als", seed=3, factors=8, iterations=5).fit(data)
    assert model.spark_params["implicitPrefs"] is True and model.config.weighting.kind == "bm25"
    assert model.user_factors.shape == (60, 8) and model.item_factors.shape == (40, 8)
    assert np.abs(model.user_factors).sum() > 0
    path = model.save(tmp_path / "cf")
    meta = json.loads((path / "component.json").read_text())["meta"]
    assert meta["engine"] == "spark" and meta["spark"]["rank"] == 8
    loaded = read_bundle(path)
    np.testing.assert_array_equal(loaded.item_factors, model.item_factors)
    np.testing.assert_array_equal(loaded.weighting.idf, model.weighting.idf)
    assert loaded.spark_params == model.spark_params
    top = loaded.recommend(np.arange(5), n=5, exclude=plays[:5])
    for row, items in enumerate(top.ids):
        assert not set(items) & set(plays[row].indices)
    again = create("spark-als", seed=3, factors=8, iterations=5).fit(data)
    np.testing.assert_allclose(again.user_factors, model.user_factors, rtol=1e-5, atol=1e-6)


def _features(engine: Engine) -> dict[tuple[int, str], tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT track_id, extractor_version, checksum, dim, vector FROM track_features")
        ).all()
    return {(r[0], r[1]): (r[2], r[3], bytes(r[4])) for r in rows}


def test_spark_audio_features_equal_local(spark, demo, tmp_path) -> None:
    from etl.audio_scan import scan_catalogue
    from etl.spark_audio import spark_results

    home, _ = demo
    broken = tmp_path / "broken.ogg"
    broken.write_text("this is not audio at all, 34 bytes")
    engines = [_copy_db(demo, tmp_path / name) for name in ("local", "spark")]
    summaries = []
    for engine, runner in zip(
        engines, [None, lambda tasks: spark_results(tasks, spark)], strict=True
    ):
        with engine.begin() as conn:  # a short catalogue with one unreadable file
            conn.execute(text("DELETE FROM track_features"))
            conn.execute(text("UPDATE tracks SET audio_path = NULL WHERE id > 12"))
            conn.execute(text("UPDATE tracks SET audio_path = :p WHERE id = 3"), {"p": str(broken)})
        summaries.append(scan_catalogue(engine, workers=1, base_dir=home, runner=runner))
    local, distributed = summaries
    assert (distributed.extracted, distributed.failed) == (local.extracted, local.failed) == (11, 1)
    assert distributed.failures[0]["reason"] == local.failures[0]["reason"] == "audio_undecodable"
    local_features, spark_features = _features(engines[0]), _features(engines[1])
    assert len(local_features) == 2 * 11
    assert spark_features == local_features  # byte for byte
    rescan = scan_catalogue(
        engines[1], workers=1, base_dir=home, runner=lambda t: spark_results(t, spark)
    )
    assert rescan.skipped == 11 and rescan.extracted == 0


def test_cli_spark_train_then_recommend_and_batch(demo, tmp_path) -> None:
    """`recsys train --engine spark`, the normal `recsys recommend`, `--all --engine spark`."""
    require_spark()
    home, db = demo
    target = tmp_path / "recsys.db"
    shutil.copy(db, target)
    env = dict(
        os.environ, RECSYS_HOME=str(home / "cli-home"), RECSYS_DATABASE_URL=f"sqlite:///{target}"
    )
    env["RECSYS_SPARK_MASTER"] = "local[2]"
    env.pop("RECSYS_DEBUG", None)
    trained = run_cli(["train", "--engine", "spark", "--no-validate", "--json"], env)
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert report["model"] == "spark-als"
    cf = Path(report["path"]) / "parts" / "ranker" / "parts" / "cf" / "component.json"
    cf = json.loads(cf.read_text())
    assert cf["component"] == "spark-als" and cf["meta"]["engine"] == "spark"
    assert cf["meta"]["spark"]["master"] == "local[2]"

    user = (
        sqlite3.connect(target)
        .execute("SELECT external_id FROM users ORDER BY id LIMIT 1")
        .fetchone()[0]
    )
    played = {
        row[0]
        for row in sqlite3.connect(target).execute(
            "SELECT t.external_id FROM listens l JOIN tracks t ON t.id = l.track_id"
            " JOIN users u ON u.id = l.user_id WHERE u.external_id = ?",
            (user,),
        )
    }
    recs = run_cli(["recommend", "--user", user, "-n", "5", "--json"], env)
    assert recs.returncode == 0, recs.stderr
    items = [r["item_id"] for r in json.loads(recs.stdout)]
    assert len(items) == 5 and not set(items) & played

    track = items[0]
    for command in (["similar", "--track", track], ["audience", "--track", track]):
        served = run_cli([*command, "-n", "3", "--json"], env)
        assert served.returncode == 0, served.stderr
        assert len(json.loads(served.stdout)) == 3

    # serving a Spark-trained bundle never imports pyspark
    probe = (
        "import sys; from recommender.services.bundles import current_recommender;"
        f"r = current_recommender({str(home / 'cli-home' / 'models')!r});"
        f"r.recommend({user!r}, n=3); print('pyspark' in sys.modules)"
    )
    import subprocess

    loaded = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "False"

    out = tmp_path / "batch"
    batch = run_cli(
        ["recommend", "--all", "--engine", "spark", "--out", str(out), "-n", "7", "--json"], env
    )
    assert batch.returncode == 0, batch.stderr
    rows = pq.read_table(out).to_pylist()
    per_user: dict[str, list[dict]] = {}
    for r in rows:
        per_user.setdefault(r["user_id"], []).append(r)
    assert len(per_user) == DEMO["users"] and all(len(v) == 7 for v in per_user.values())
    assert not {r["track_id"] for r in per_user[user]} & played
    # every user's Spark list is the list `recommend --user` gives: items, order, scores, sources
    from recommender.services.bundles import current_recommender

    rec = current_recommender(home / "cli-home" / "models")
    for name, mine in per_user.items():
        mine.sort(key=lambda r: r["rank"])
        assert [r["rank"] for r in mine] == list(range(1, 8))
        single = rec.rank(np.array([rec.users.index_of(name)]), n=7)
        assert [r["track_id"] for r in mine] == list(rec.items.ids[single.ids[0]]), name
        assert np.array_equal(np.array([r["score"] for r in mine], np.float32), single.scores[0])
        assert [r["source"] for r in mine] == list(rec.sources(single.ids[0]))
    local = tmp_path / "local.parquet"
    assert run_cli(["recommend", "--all", "--out", str(local), "-n", "7"], env).returncode == 0
    order = [("user_id", "ascending"), ("rank", "ascending")]
    assert pq.read_table(out).sort_by(order).equals(pq.read_table(local).sort_by(order))


def test_cli_spark_bad_usage_is_one_line(tmp_path) -> None:
    env = dict(
        os.environ, RECSYS_HOME=str(tmp_path), RECSYS_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}"
    )
    bad = run_cli(["train", "--engine", "spark", "--model", "knn"], env)
    assert bad.returncode == 2 and "--engine spark trains ALS only" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    no_out = run_cli(["recommend", "--all", "--engine", "spark"], env)
    assert no_out.returncode == 2 and "--all needs --out" in no_out.stderr
