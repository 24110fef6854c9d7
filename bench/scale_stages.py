"""One stage of the Last.fm-360K-scale pipeline per process, so each gets its own peak RSS.

`python -m bench.scale_stages STAGE --dir WORK [options]` runs one stage and prints one
JSON line on stdout with what it measured inside (the timed part excludes interpreter
start-up and file reading). bench.scale_bench chains the stages and adds wall time and
peak RSS from bench.harness.run_measured. Stages hand data to each other through
files in WORK: listens.csv/tags.csv, plays.npz (the users x items matrix read back
from the database), als/ (our saved model).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ALS_FACTORS = 64
TOP_N = 10


def _shape(scale: float) -> dict[str, int]:
    from bench.synthetic import LASTFM_360K

    return {
        "users": max(int(LASTFM_360K["users"] * scale), 200),
        "items": max(int(LASTFM_360K["items"] * scale), 200),
        "rows": max(int(LASTFM_360K["rows"] * scale), 5000),
    }


def generate(args: argparse.Namespace) -> dict:
    """Synthetic listens + crowd tags as CSV, the input of `recsys etl csv`."""
    from bench.synthetic import listens_table, tags_table, write_table

    shape = _shape(args.scale)
    started = time.perf_counter()
    listens = listens_table(seed=args.seed, **shape)
    tags = tags_table(listens, seed=args.seed)
    write_table(args.dir / "listens.csv", listens)
    write_table(args.dir / "tags.csv", tags)
    return shape | {
        "rows": listens.num_rows,
        "tag_rows": tags.num_rows,
        "seconds": time.perf_counter() - started,
    }


def load(args: argparse.Namespace) -> dict:
    """Database -> Dataset (`load_dataset`), the plays matrix saved for the next stages."""
    import scipy.sparse as sp

    from recommender.services.datasets import load_dataset
    from recommender.storage.engine import make_engine

    engine = make_engine(args.url)
    started = time.perf_counter()
    data = load_dataset(engine)
    seconds = time.perf_counter() - started
    engine.dispose()
    if args.save:
        sp.save_npz(args.dir / "plays.npz", data.plays, compressed=False)
    return {
        "seconds": seconds,
        "users": data.n_users,
        "items": data.n_items,
        "plays": int(data.plays.nnz),
        "tag_events": len(data.tag_events),
    }


def _plays(work: Path):
    import scipy.sparse as sp

    return sp.load_npz(work / "plays.npz").tocsr()  # load_npz never unpickles


class _Clock:
    """Wall and CPU seconds (all threads) of a block: CPU time barely moves with the
    neighbours' load on a shared machine, so it backs up the wall-time ratio."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def fit(args: argparse.Namespace) -> dict:
    """ALS fit, ours (BM25 weighting + implicit via our model) or raw implicit on the same input."""
    from recommender.core.registry import create
    from recommender.data.dataset import Dataset

    plays = _plays(args.dir)
    ours = create("als", seed=args.seed, factors=ALS_FACTORS, iterations=args.iterations)
    if not args.reference:
        data = Dataset.from_plays(plays)
        with _Clock() as clock:
            ours.fit(data)
        ours.save(args.dir / "als")
        with _Clock() as weighting:  # how much of the fit was the one-off weighting
            ours.weighting.fit_transform(plays)
        return {
            "seconds": clock.wall,
            "cpu_seconds": clock.cpu,
            "seconds_per_iteration": clock.wall / args.iterations,
            "weighting_seconds": weighting.wall,
        }

    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    # the same weighted matrix and regularisation our model hands to implicit
    weighted = ours.weighting.fit_transform(plays)
    raw = AlternatingLeastSquares(
        factors=ALS_FACTORS,
        regularization=ours._lambda(weighted),
        alpha=float(ours.config.alpha),
        iterations=args.iterations,
        calculate_training_loss=False,
        random_state=args.seed,
    )
    with threadpool_limits(1, "blas"), _Clock() as clock:  # as implicit recommends
        raw.fit(weighted, show_progress=False)
    return {
        "seconds": clock.wall,
        "cpu_seconds": clock.cpu,
        "seconds_per_iteration": clock.wall / args.iterations,
    }


def recommend(args: argparse.Namespace) -> dict:
    """Top-10 for every user, played items filtered: our model vs implicit's batch call."""
    from recommender.core.bundle import read_bundle

    plays = _plays(args.dir)
    model = read_bundle(args.dir / "als")
    users = np.arange(plays.shape[0])
    if args.reference:
        from threadpoolctl import threadpool_limits

        raw = model.implicit_model(len(users))  # implicit's model around the same factors
        rows = users.astype(np.int32)
        # one BLAS thread, as implicit itself recommends (its top-k runs its own threads)
        with threadpool_limits(1, "blas"), _Clock() as clock:
            ids, _ = raw.recommend(rows, plays, N=TOP_N)
    else:
        with _Clock() as clock:
            ids = model.recommend(users, n=TOP_N, exclude=plays).ids
    return {
        "seconds": clock.wall,
        "cpu_seconds": clock.cpu,
        "users": len(users),
        "users_per_second": len(users) / clock.wall,
        "filled": float(np.mean(np.asarray(ids) >= 0)),
    }


def evaluate(args: argparse.Namespace) -> dict:
    """Random 80/10/10 split, pop + ALS through recommender.evaluation, NDCG@10 on test users.

    With --max-users, a seeded sample of the test users is ranked (full ranking over
    every item for each of them): the metric's sampling error at 20,000 users is ~0.002.
    """
    import scipy.sparse as sp

    from recommender.core.registry import create
    from recommender.data.splits import make_split
    from recommender.evaluation.runner import evaluate_split
    from recommender.services.datasets import load_dataset
    from recommender.storage.engine import make_engine

    engine = make_engine(args.url)
    started = time.perf_counter()
    data = load_dataset(engine)
    engine.dispose()
    split = make_split(data, "random", seed=args.seed)
    users = split.test_users
    if args.max_users and len(users) > args.max_users:
        rng = np.random.default_rng(args.seed)
        keep = np.zeros(split.test.shape[0], dtype=np.float32)
        keep[rng.choice(users, size=args.max_users, replace=False)] = 1
        split = replace(split, test=sp.csr_matrix(sp.diags(keep) @ split.test))
    prepared = time.perf_counter()
    rankers = [
        create("pop", seed=args.seed),
        create("als", seed=args.seed, factors=ALS_FACTORS, iterations=args.iterations),
    ]
    result = evaluate_split(rankers, split, k=TOP_N, seed=args.seed)
    models = {m["name"]: m for m in result["models"]}
    failed = {name: m["error"] for name, m in models.items() if "error" in m}
    if failed:
        raise RuntimeError(f"evaluation failed: {failed}")
    return {
        "seconds": time.perf_counter() - started,
        "load_and_split_seconds": prepared - started,
        "users_evaluated": result["users_evaluated"],
        "ndcg": {name: m["metrics"][f"ndcg@{TOP_N}"] for name, m in models.items()},
        "fit_seconds": {name: m["fit_seconds"] for name, m in models.items()},
        "rank_seconds": {name: m["rank_seconds"] for name, m in models.items()},
    }


STAGES = {
    "generate": generate,
    "load": load,
    "fit": fit,
    "recommend": recommend,
    "evaluate": evaluate,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_stages", description=__doc__)
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--dir", type=Path, required=True, help="work directory of the run")
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--url", help="database URL (load, evaluate)")
    parser.add_argument("--save", action="store_true", help="load: save plays.npz")
    parser.add_argument("--iterations", type=int, default=15, help="ALS iterations")
    parser.add_argument("--reference", action="store_true", help="raw implicit instead of ours")
    parser.add_argument("--max-users", type=int, default=0, help="evaluate: sample of test users")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(STAGES[args.stage](args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
