"""`recsys serve` under load, on HetRec 2K (when ../shared/data has it) and on the
Last.fm-360K-shaped synthetic model at ctx.scale.

For each model, in the same run:
- in-process scoring of one user (`HybridRecommender.recommend`, one BLAS thread as in
  the server) p50/p99, against implicit's own single-user `recommend` on the same ALS
  factors (the reference);
- seconds from starting `recsys serve` to its first 200 on /ready;
- locust (headless, closed loop, no think time) at 1, 8 and 32 clients against
  /users/{user}/recommendations and, as the reference, a constant list returned by
  the same server and route machinery (/_bench/constant): requests/s, p50, p99;
- resident, shared and unique memory per worker with --workers 2 (the bundle's arrays
  are memory-mapped, so the workers share them).
Each locust run is bounded by RUN_SECONDS and MAX_REQUESTS.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.harness import BenchContext, Result, run_measured
from bench.server_process import running_server

CLIENTS = (1, 8, 32)
RUN_SECONDS = 8
MAX_REQUESTS = 40_000
QUERIES = 500
HETREC = Path(__file__).resolve().parents[2] / "shared" / "data" / "hetrec2011-lastfm-2k"
NAME = "serve"
BENCH_KEY = "bench-key"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECSYS_", "PROMETHEUS_"))}
    env.update(RECSYS_HOME=str(home), RECSYS_DATABASE_URL=f"sqlite:///{home / 'recsys.db'}")
    return env


def hetrec_home(ctx: BenchContext) -> Path | None:
    if not HETREC.is_dir():
        return None
    home = ctx.work_dir / "serve-hetrec"
    cli = [sys.executable, "-m", "recommender.cli.app", "-q"]
    for args in (["etl", "lastfm-2k", str(HETREC)], ["train"]):
        done = subprocess.run([*cli, *args], env=_env(home), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"recsys {args[0]} failed: {done.stderr.strip()[-300:]}")
    return home


def scaled_home(ctx: BenchContext) -> Path:
    from bench.recommend_bench import synthetic_dataset
    from recommender.hybrid.recommender import HybridRecommender
    from recommender.services.bundles import RECOMMENDER, new_version, publish, write_version

    data = synthetic_dataset(ctx.scale)
    home = ctx.work_dir / "serve-scaled"
    models = home / "models"
    version = new_version(data.fingerprint())
    rec = HybridRecommender.train(data, model="als", seed=0)
    write_version(models, RECOMMENDER, version, rec, {"version": version})
    publish(models, RECOMMENDER, version)
    return home


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def in_process(label: str, home: Path) -> tuple[list[Result], list[str]]:
    """One-user scoring latency, ours and implicit's on the same factors; sample users."""
    from recommender.core.blas import serving_blas
    from recommender.services.bundles import current_recommender

    serving_blas()
    rec = current_recommender(home / "models")
    rows = np.random.default_rng(1).integers(0, len(rec.users), QUERIES)
    users = [rec.users.id_of(int(r)) for r in rows]
    for user in users[:20]:
        rec.recommend(user)
    ours = []
    for user in users:
        started = time.perf_counter()
        rec.recommend(user, n=10)
        ours.append(time.perf_counter() - started)
    p50, p99 = _percentiles(ours)
    shape = f"{len(rec.users):,} users x {len(rec.items):,} items"
    results = [
        Result(NAME, f"{label}: in-process one user p50", p50, "ms", note=shape),
        Result(NAME, f"{label}: in-process one user p99", p99, "ms"),
    ]
    cf = rec.scorer.cf
    if hasattr(cf, "implicit_model"):
        model = cf.implicit_model(1)
        raw = []
        for row in rows:
            history = rec.plays[int(row)]
            started = time.perf_counter()
            model.recommend(int(row), history, N=10, filter_already_liked_items=True)
            raw.append(time.perf_counter() - started)
        results.append(
            Result(
                NAME,
                f"{label}: in-process p50 vs raw implicit",
                p50,
                "ms",
                baseline=_percentiles(raw)[0],
                note="ref = implicit ALS recommend(userid, user_items, N=10), same factors",
            )
        )
    return results, users


def cli_process(label: str, home: Path, users: list[str]) -> Result:
    """`recsys recommend --user U --json` as a fresh process, median of 5 users."""
    cli = [sys.executable, "-m", "recommender.cli.app", "recommend", "--json", "--user"]
    walls = []
    for user in users[:5]:
        seconds, rss, done = run_measured([*cli, user], env=_env(home))
        if done.returncode != 0:
            raise RuntimeError(f"recsys recommend failed: {done.stderr[-300:]}")
        walls.append(seconds)
    return Result(NAME, f"{label}: `recsys recommend --user` process", float(np.median(walls)),
                  "s", peak_rss_mb=rss, note="median of 5 processes")  # fmt: skip


def _locust(url: str, path: str, users_file: Path, clients: int, out: Path) -> dict[str, float]:
    env = dict(
        os.environ,
        RECSYS_BENCH_USERS=str(users_file),
        RECSYS_BENCH_PATH=path,
        RECSYS_BENCH_MAX_REQUESTS=str(MAX_REQUESTS),
    )
    locust = Path(sys.executable).with_name("locust")
    command = [
        str(locust), "-f", str(Path(__file__).with_name("locustfile.py")), "--headless",
        "-u", str(clients), "-r", str(clients), "--run-time", f"{RUN_SECONDS}s",
        "--host", url, "--csv", str(out), "--only-summary", "--loglevel", "ERROR",
    ]  # fmt: skip
    subprocess.run(command, env=env, capture_output=True, text=True, timeout=RUN_SECONDS + 60)
    with open(f"{out}_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    return {
        "requests": float(row["Request Count"]),
        "failures": float(row["Failure Count"]),
        "rate": float(row["Requests/s"]),
        "p50": float(row["50%"]),
        "p99": float(row["99%"]),
    }


def under_load(label: str, home: Path, users: list[str], work: Path) -> list[Result]:
    users_file = work / f"{label}-users.txt"
    users_file.write_text("\n".join(users))
    env = dict(_env(home), RECSYS_SERVE_BENCH="1", RECSYS_API_KEY=BENCH_KEY)
    started = time.perf_counter()
    results = []
    with running_server(env, work / f"{label}-server.log", wait_for="/ready") as server:
        ready = time.perf_counter() - started
        results.append(Result(NAME, f"{label}: ready after start", ready, "s"))
        for clients in CLIENTS:
            stats = {}
            for kind, path in (
                ("constant", "/_bench/constant"),
                ("recs", "/users/{user}/recommendations"),
            ):
                stats[kind] = _locust(
                    server.url, path, users_file, clients, work / f"{label}-{kind}-{clients}"
                )
            recs, constant = stats["recs"], stats["constant"]
            note = f"{int(recs['requests'])} requests, {int(recs['failures'])} failed"
            results += [
                Result(
                    NAME,
                    f"{label}: recommendations req/s, {clients} clients",
                    recs["rate"],
                    "req/s",
                    baseline=constant["rate"],
                    note=f"{note}; ref = constant list, same server",
                ),
                Result(NAME, f"{label}: p50, {clients} clients", recs["p50"], "ms",
                       baseline=constant["p50"]),
                Result(NAME, f"{label}: p99, {clients} clients", recs["p99"], "ms",
                       baseline=constant["p99"]),
            ]  # fmt: skip
        tracks, tags = sample_tracks_and_tags(home)
        results += endpoints(label, server.url, users, tracks, tags)
    return results


def sample_tracks_and_tags(home: Path) -> tuple[list[str], list[str]]:
    """Played tracks and known tags of the served bundle, drawn with a fixed seed."""
    from recommender.services.bundles import current_recommender

    rec = current_recommender(home / "models")
    played = np.flatnonzero(rec.scorer.play_counts > 0)
    picked = np.random.default_rng(2).choice(played, size=min(len(played), QUERIES), replace=False)
    return [rec.items.id_of(int(i)) for i in picked], [str(t) for t in rec.tags.ids[:50]]


ENDPOINT_REQUESTS = 200


def endpoints(label: str, url: str, users: list[str], tracks: list[str], tags: list[str]):
    """p50/p99 ms of every read endpoint and of POST /listens, one client, in sequence."""
    import httpx

    def visitor(i: int) -> dict:
        return {"tags": [tags[i % len(tags)]], "tracks": tracks[i : i + 3]}

    def listens(i: int) -> dict:
        rows = [
            {"user": users[i], "track": tracks[(i + j) % len(tracks)], "timestamp": 2 * 10**9 + i}
            for j in range(10)
        ]
        return {"listens": rows}

    key = {"X-API-Key": BENCH_KEY}
    asks = {
        "GET recommendations": lambda i, h: h.get(f"/users/{users[i]}/recommendations"),
        "GET recommendations explain": lambda i, h: h.get(
            f"/users/{users[i]}/recommendations", params={"explain": "true"}
        ),
        "POST recommendations (visitor)": lambda i, h: h.post("/recommendations", json=visitor(i)),
        "GET similar": lambda i, h: h.get(f"/tracks/{tracks[i]}/similar"),
        "GET audience": lambda i, h: h.get(f"/tracks/{tracks[i]}/audience"),
        "GET user tags": lambda i, h: h.get(f"/users/{users[i]}/tags"),
        "POST listens (10 events)": lambda i, h: h.post("/listens", json=listens(i), headers=key),
    }
    results = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for name, ask in asks.items():
            seconds = []
            for i in range(ENDPOINT_REQUESTS):
                started = time.perf_counter()
                response = ask(i % min(len(users), len(tracks)), http)
                seconds.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
            p50, p99 = _percentiles(seconds)
            note = f"p99 {p99:.2f} ms, {ENDPOINT_REQUESTS} sequential requests"
            results.append(Result(NAME, f"{label}: {name} p50", p50, "ms", note=note))
    return results


def worker_memory(label: str, home: Path, users: list[str], work: Path) -> list[Result]:
    """RSS, shared and unique (USS) MB of each of two workers after serving requests."""
    import httpx
    import psutil

    with running_server(_env(home), work / f"{label}-workers.log", "--workers", "2") as server:
        deadline = time.monotonic() + 60
        while httpx.get(server.url + "/ready").status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("workers not ready in 60 s")
            time.sleep(0.1)
        with httpx.Client(base_url=server.url) as http:
            for user in users[:200]:
                http.get(f"/users/{user}/recommendations")
        children = psutil.Process(server.process.pid).children(recursive=True)
        workers = [p for p in children if "spawn_main" in " ".join(p.cmdline())]
        info = [p.memory_full_info() for p in workers]
    mb = 1024 * 1024
    out = []
    for i, m in enumerate(info):
        note = f"shared {m.shared / mb:.0f} MB, unique {m.uss / mb:.0f} MB, pss {m.pss / mb:.0f} MB"
        out.append(Result(NAME, f"{label}: worker {i + 1} of 2 RSS", m.rss / mb, "MB", note=note))
    return out


def run(ctx: BenchContext) -> list[Result]:
    work = ctx.work_dir / "serve"
    work.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    homes = []
    hetrec = hetrec_home(ctx)
    if hetrec is not None:
        homes.append(("hetrec", hetrec))
    homes.append((f"360K-shaped x{ctx.scale:g}", scaled_home(ctx)))
    for label, home in homes:
        measured, users = in_process(label, home)
        results += measured
        results.append(cli_process(label, home, users))
        results += under_load(label, home, users, work)
        results += worker_memory(label, home, users, work)
    return results
