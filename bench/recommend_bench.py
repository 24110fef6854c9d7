"""Recommendation latency on a trained hybrid bundle: in-process and as a `recsys` process.

A Last.fm-360K-shaped play matrix scaled by ctx.scale (bench.cf_bench.play_matrix)
plus synthetic crowd tags (each item 1-3 of 60 tags, users tag a share of what
they play) and 10% cold items carrying only "predicted" tags. Measures
- bundle load seconds (once per process in the API),
- single-user `HybridRecommender.recommend` p50/p99 ms (n=10), plain and with --explain,
- every user's list in one batch (`HybridRecommender.rank`, what `recommend --all` writes),
  users/s, against the same lists asked for one user at a time, in the same run,
- `recsys recommend --user U --json` wall seconds as a fresh process (median of 5),
- `recsys --help` wall seconds (start-up cost of the CLI alone).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import scipy.sparse as sp

from bench.harness import BenchContext, Result, run_measured

N_TAGS = 60
QUERIES = 300
PROCESS_RUNS = 5


def synthetic_dataset(scale: float, seed: int = 0):
    """Plays from the CF benchmark's generator, with tags and cold items added."""
    from bench.cf_bench import play_matrix
    from recommender.data.dataset import Dataset, TagEvents
    from recommender.data.vocabulary import Vocabulary

    rng = np.random.default_rng(seed)
    plays = play_matrix(scale, seed=seed)
    n_users, n_items = plays.shape
    cold = rng.random(n_items) < 0.1
    plays = sp.csr_matrix(plays @ sp.diags((~cold).astype(np.float32)))
    plays.eliminate_zeros()
    item_tags = [rng.choice(N_TAGS, size=rng.integers(1, 4), replace=False) for _ in range(n_items)]
    coo = plays.tocoo()
    tagged = rng.random(coo.nnz) < 0.2
    ev_user, ev_item, ev_tag = [], [], []
    for u, i in zip(coo.row[tagged], coo.col[tagged], strict=False):
        for t in item_tags[i]:
            ev_user.append(u), ev_item.append(i), ev_tag.append(t)
    p_rows = [i for i in np.flatnonzero(cold) for _ in item_tags[i]]
    p_cols = [t for i in np.flatnonzero(cold) for t in item_tags[i]]
    predicted = sp.csr_matrix(
        (rng.uniform(0.5, 1.0, len(p_rows)).astype(np.float32), (p_rows, p_cols)),
        shape=(n_items, N_TAGS),
    )
    return Dataset(
        users=Vocabulary.from_ids([f"user-{u}" for u in range(n_users)], kind="user"),
        items=Vocabulary.from_ids([f"track-{i}" for i in range(n_items)], kind="track"),
        tags=Vocabulary.from_ids([f"tag-{t}" for t in range(N_TAGS)], kind="tag"),
        plays=plays,
        tag_events=TagEvents(
            np.asarray(ev_user, np.int32),
            np.asarray(ev_item, np.int32),
            np.asarray(ev_tag, np.int32),
        ),
        predicted_tags=predicted,
    )


def _latencies(fn, users: list[str]) -> np.ndarray:
    out = []
    for user in users:
        started = time.perf_counter()
        fn(user)
        out.append(time.perf_counter() - started)
    return np.asarray(out) * 1000


def run(ctx: BenchContext) -> list[Result]:
    from recommender.hybrid.recommender import HybridRecommender
    from recommender.services.bundles import (
        RECOMMENDER,
        current_recommender,
        new_version,
        publish,
        write_version,
    )

    data = synthetic_dataset(ctx.scale)
    shape = f"{data.n_users:,} users x {data.n_items:,} items, {data.plays.nnz:,} plays"
    started = time.perf_counter()
    trained = HybridRecommender.train(data, model="als", seed=0)
    train_seconds = time.perf_counter() - started
    models = ctx.work_dir / "home" / "models"
    version = new_version(data.fingerprint())
    write_version(models, RECOMMENDER, version, trained, {"version": version})
    publish(models, RECOMMENDER, version)

    started = time.perf_counter()
    rec = current_recommender(models)
    load_seconds = time.perf_counter() - started
    rng = np.random.default_rng(1)
    users = [data.users.id_of(int(u)) for u in rng.integers(0, data.n_users, QUERIES)]
    rec.recommend(users[0])  # warm-up
    plain = _latencies(lambda u: rec.recommend(u, n=10), users)
    explained = _latencies(lambda u: rec.recommend(u, n=10, explain=True), users[:100])

    from recommender.core.component import row_batches

    started = time.perf_counter()
    for batch in row_batches(data.n_users, data.n_items):
        rec.rank(np.arange(batch.start, batch.stop), n=10)
    batch_rate = data.n_users / (time.perf_counter() - started)
    sample = np.arange(min(data.n_users, QUERIES))
    started = time.perf_counter()
    for row in sample:
        rec.rank(np.array([row]), n=10)
    single_rate = len(sample) / (time.perf_counter() - started)

    env = dict(os.environ, RECSYS_HOME=str(ctx.work_dir / "home"))
    cli = [sys.executable, "-m", "recommender.cli.app"]
    walls, rss = [], 0.0
    for user in users[:PROCESS_RUNS]:
        seconds, rss, proc = run_measured([*cli, "recommend", "--user", user, "--json"], env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"recsys recommend failed: {proc.stderr.strip()[-300:]}")
        walls.append(seconds)
    help_walls = [run_measured([*cli, "--help"], env=env)[0] for _ in range(3)]
    name = "recommend"
    return [
        Result(name, "train seconds (ALS + content map)", train_seconds, "s", note=shape),
        Result(name, "bundle load", load_seconds, "s"),
        Result(
            name, "single-user p50", float(np.percentile(plain, 50)), "ms", note="in-process, n=10"
        ),
        Result(
            name, "single-user p99", float(np.percentile(plain, 99)), "ms", note="in-process, n=10"
        ),
        Result(
            name,
            "batch lists, users/s",
            batch_rate,
            "users/s",
            baseline=single_rate,
            note="every user's top-10 via rank() in row batches; ref = one user per call",
        ),
        Result(name, "single-user p50 --explain", float(np.percentile(explained, 50)), "ms"),
        Result(name, "single-user p99 --explain", float(np.percentile(explained, 99)), "ms"),
        Result(
            name,
            "`recsys recommend` wall",
            float(np.median(walls)),
            "s",
            peak_rss_mb=rss,
            note=f"median of {PROCESS_RUNS} processes",
        ),
        Result(name, "`recsys --help` wall", float(np.median(help_walls)), "s", note="median of 3"),
    ]
