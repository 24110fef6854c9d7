"""The demo catalogue's budget: `make demo` should finish in about a minute.

Measures the default `recsys etl demo` end to end in a fresh process (whatever
it runs: generation, loading, and the audio scan once that is wired in), and
the audio synthesiser alone as seconds of audio rendered per wall second with
one process and with all cores (the files are identical either way).
"""

from __future__ import annotations

import os
import shutil
import sys
import time

from bench.harness import BenchContext, Result, run_measured

USERS, TRACKS, CLIP_SECONDS = 200, 300, 6.0


def run(ctx: BenchContext) -> list[Result]:
    from etl.demo import generate_demo

    results: list[Result] = []
    home = ctx.work_dir / "demo-home"
    database = f"sqlite:///{home / 'recsys.db'}"
    env = dict(os.environ, RECSYS_HOME=str(home), RECSYS_DATABASE_URL=database)
    seconds, rss, proc = run_measured(
        [sys.executable, "-m", "recommender.cli.app", "--quiet", "etl", "demo", "--json"], env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"recsys etl demo failed: {proc.stderr.strip().splitlines()[-2:]}")
    results.append(
        Result(
            benchmark="demo",
            metric="recsys etl demo (defaults)",
            value=seconds,
            unit="s",
            peak_rss_mb=rss,
            note=f"{USERS} users, {TRACKS} tracks x {CLIP_SECONDS:g} s, SQLite; budget ~60 s",
        )
    )
    audio_seconds = TRACKS * CLIP_SECONDS
    for workers in (1, os.cpu_count() or 1):
        out = ctx.work_dir / f"demo-w{workers}"
        started = time.perf_counter()
        generate_demo(out, users=USERS, tracks=TRACKS, clip_seconds=CLIP_SECONDS, workers=workers)
        elapsed = time.perf_counter() - started
        shutil.rmtree(out, ignore_errors=True)
        results.append(
            Result(
                benchmark="demo",
                metric=f"generate_demo, {workers} worker(s)",
                value=audio_seconds / elapsed,
                unit="audio s / wall s",
                note=f"{elapsed:.1f} s for {TRACKS} clips + CSVs",
            )
        )
    shutil.rmtree(home, ignore_errors=True)
    return results
