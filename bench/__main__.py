"""Run every benchmark and write bench/results/latest.{json,md} with machine info.

Each module in BENCHMARKS exposes `run(ctx: BenchContext) -> list[Result]`.
A benchmark that fails is reported as failed and the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path

from bench.harness import BenchContext, Result, write_report

BENCHMARKS = [
    "bench.etl_bench",
    "bench.cf_bench",
    "bench.spark_bench",
    "bench.demo_bench",
    "bench.recommend_bench",
    "bench.serve_bench",
    "bench.audio_bench",
    "bench.cnn_bench",
    "bench.scale_bench",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=0.01, help="1.0 = Last.fm-360K size")
    parser.add_argument("--only", default="", help="comma-separated module names (e.g. etl_bench)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)

    ctx = BenchContext.create(scale=args.scale, out_dir=args.out)
    selected = [m for m in BENCHMARKS if not args.only or m.split(".")[-1] in args.only.split(",")]
    results: list[Result] = []
    failed = 0
    for name in selected:
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(name)
            results.extend(module.run(ctx))
        except Exception as exc:  # keep going: one broken benchmark must not hide the others
            failed += 1
            traceback.print_exc()
            results.append(
                Result(benchmark=name, metric="error", value=float("nan"), unit=str(exc))
            )
    json_path, md_path = write_report(ctx, results)
    print(md_path.read_text())
    print(f"results: {json_path} {md_path}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
