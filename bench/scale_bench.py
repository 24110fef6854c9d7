"""The whole pipeline at ctx.scale of Last.fm-360K, one process per stage (peak RSS each).

generate listens + tags -> `recsys etl csv` into SQLite and into a fresh PostgreSQL
schema (rows/s) -> database to matrix with `load_dataset` (both databases) -> ALS fit,
64 factors, ours vs raw implicit on the same weighted matrix (s/iteration) -> top-10
for every user, ours vs implicit's batch `recommend` on the same factors (users/s) ->
random split + pop + ALS through recommender.evaluation (NDCG@10). Each ours/reference
pair runs in separate fresh processes, so neither inherits the other's caches or heap.
The pipeline's peak is the largest stage peak (stages run one after another); the
PostgreSQL server's own memory is not in it.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path

from bench.etl_bench import POSTGRES_URL, _cli, _postgres_reference
from bench.harness import BenchContext, Result, run_measured

REPO = Path(__file__).resolve().parents[1]  # stages run as `python -m bench.scale_stages` here
EVAL_USERS = 20_000  # test users ranked in the evaluation stage (seeded sample)
PIPELINE_TARGET_MB = 8 * 1024


# ALS iterations timed: the model's default, so our one-off BM25 weighting (inside our
# fit, outside the reference's) weighs on s/iteration as much as it does in `recsys train`
ALS_ITERATIONS = 15


def _stage(work: Path, stage: str, *args: str) -> tuple[float, float, dict]:
    """(wall s, peak RSS MB, the stage's JSON) of `python -m bench.scale_stages STAGE`."""
    cmd = [sys.executable, "-m", "bench.scale_stages", stage, "--dir", str(work), *args]
    seconds, rss, proc = run_measured(cmd, cwd=REPO)
    if proc.returncode != 0:
        tail = [line for line in proc.stderr.strip().splitlines() if line.strip()][-4:-1]
        raise RuntimeError(f"stage {stage} failed: {' | '.join(tail)}")
    print(f"  {stage} {' '.join(args)}: {seconds:.1f} s, {rss:,.0f} MB", file=sys.stderr)
    return seconds, rss, json.loads(proc.stdout.strip().splitlines()[-1])


@contextmanager
def postgres_schema() -> Iterator[str | None]:
    """A database URL in a fresh schema, dropped afterwards; None when no server answers."""
    from recommender.storage.scratch import scratch_schema

    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_schema(POSTGRES_URL, prefix="recsys_scale"))
        except Exception as exc:  # no server: the SQLite side still counts
            print(f"  PostgreSQL unavailable: {exc}", file=sys.stderr)
            url = None
        yield url


def _reference_process(work: Path) -> tuple[float, float]:
    """(insert seconds, peak RSS MB) of etl_bench's SQLite reference in a process of its own,
    so the rows it holds in memory do not inflate this driver process."""
    code = (
        "import sys; from pathlib import Path; from bench.etl_bench import _sqlite_reference;"
        "print(_sqlite_reference(Path(sys.argv[1]), Path(sys.argv[2]))[0])"
    )
    cmd = [sys.executable, "-c", code, str(work / "listens.csv"), str(work / "reference.db")]
    _, rss, proc = run_measured(cmd, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"SQLite reference failed: {proc.stderr.strip().splitlines()[-3:]}")
    return float(proc.stdout.strip().splitlines()[-1]), rss


def _etl(url: str, work: Path, label: str, rows_note: str, listens: int) -> tuple[Result, float]:
    """Ours: the `recsys etl csv` process; ref: etl_bench's plain bulk insert of the listens."""
    seconds, rss, summary, cpu = _cli(
        url, "etl", "csv", "--listens", str(work / "listens.csv"), "--tags", str(work / "tags.csv")
    )
    print(f"  etl -> {label}: {seconds:.1f} s, {rss:,.0f} MB", file=sys.stderr)
    if label == "SQLite":
        reference, ref_rss = _reference_process(work)
        how = (
            "sqlite3 executemany of the rows, parsed to Python beforehand, into a bare table"
            f" (its own process, peak {ref_rss:,.0f} MB: every row held as a tuple)"
        )
    else:
        reference = _postgres_reference(work / "listens.csv", url)
        how = "psycopg COPY of the file into a bare table"
    print(f"  etl reference -> {label}: {reference:.1f} s", file=sys.stderr)
    result = Result(
        "scale",
        f"etl csv listens+tags -> {label}",
        summary["rows_in"] / seconds,
        "rows/s",
        baseline=listens / reference,
        peak_rss_mb=rss,
        note=f"{rows_note}; {seconds:.1f} s end to end (CLI process: parse, validate, map ids,"
        f" indexed upserts), client CPU {cpu:.1f} s, {summary['rows_rejected']:,} rejected;"
        f" ref: {how} (listens only, no ids, no indexes)",
    )
    return result, rss


def _load(url: str, work: Path, label: str, *, save: bool) -> tuple[Result, float]:
    wall, rss, out = _stage(work, "load", "--url", url, *(["--save"] if save else []))
    result = Result(
        "scale",
        f"database -> matrix ({label})",
        out["seconds"],
        "s",
        peak_rss_mb=rss,
        note=f"load_dataset: {out['plays']:,} plays, {out['tag_events']:,} tag events,"
        f" {out['users']:,} x {out['items']:,}; {wall:.1f} s with start-up and npz save",
    )
    return result, rss


def run(ctx: BenchContext) -> list[Result]:
    work = ctx.work_dir / "scale"
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _pipeline(ctx.scale, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Logged(list):
    """The results so far, each also printed to stderr as it comes: a run that dies at
    full scale (out of memory, out of time) still leaves the stages it finished."""

    def append(self, result: Result) -> None:
        print(f"  result: {json.dumps(asdict(result), default=str)}", file=sys.stderr, flush=True)
        super().append(result)


def _pipeline(scale: float, work: Path) -> list[Result]:
    results: list[Result] = _Logged()
    peaks: dict[str, float] = {}

    wall, rss, gen = _stage(work, "generate", "--scale", str(scale))
    rows_note = f"{gen['rows']:,} listens + {gen['tag_rows']:,} tags"
    shape_note = f"{gen['users']:,} users x {gen['items']:,} items"
    peaks["generate"] = rss
    results.append(
        Result(
            "scale",
            "generate synthetic CSV",
            gen["seconds"],
            "s",
            peak_rss_mb=rss,
            note=f"{rows_note}, {shape_note} (Last.fm-360K shape x {scale:g})",
        )
    )

    sqlite_url = f"sqlite:///{work / 'recsys.db'}"
    result, peaks["etl sqlite"] = _etl(sqlite_url, work, "SQLite", rows_note, gen["rows"])
    results.append(result)
    result, peaks["load sqlite"] = _load(sqlite_url, work, "SQLite", save=True)
    results.append(result)
    with postgres_schema() as pg_url:
        if pg_url is None:
            results.append(
                Result("scale", "etl -> PostgreSQL", float("nan"), "rows/s", note="no server")
            )
        else:
            result, peaks["etl postgres"] = _etl(pg_url, work, "PostgreSQL", rows_note, gen["rows"])
            results.append(result)
            result, peaks["load postgres"] = _load(pg_url, work, "PostgreSQL", save=False)
            results.append(result)

    n_iter = ALS_ITERATIONS
    _, peaks["als fit"], ours = _stage(work, "fit", "--iterations", str(n_iter))
    _, peaks["als fit (implicit)"], raw = _stage(
        work, "fit", "--iterations", str(n_iter), "--reference"
    )
    results.append(
        Result(
            "scale",
            "ALS fit seconds per iteration",
            ours["seconds_per_iteration"],
            "s",
            baseline=raw["seconds_per_iteration"],
            peak_rss_mb=peaks["als fit"],
            note=f"{ALS_NOTE} ({ours['weighting_seconds']:.1f} s once), {n_iter} iterations,"
            f" {shape_note}; ref = implicit ALS on the"
            f" same BM25-weighted matrix (ref peak {peaks['als fit (implicit)']:,.0f} MB);"
            f" CPU s ours/ref {ours['cpu_seconds']:.1f}/{raw['cpu_seconds']:.1f}",
        )
    )

    _, peaks["recommend"], ours = _stage(work, "recommend")
    _, peaks["recommend (implicit)"], raw = _stage(work, "recommend", "--reference")
    results.append(
        Result(
            "scale",
            "batch top-10 for every user",
            ours["users_per_second"],
            "users/s",
            baseline=raw["users_per_second"],
            peak_rss_mb=peaks["recommend"],
            note=f"{ours['users']:,} users in {ours['seconds']:.1f} s, played items filtered;"
            " ref = implicit model.recommend(all userids, user_items, N=10) on the same factors,"
            " one BLAS thread as implicit advises"
            f" (ref peak {peaks['recommend (implicit)']:,.0f} MB);"
            f" CPU s ours/ref {ours['cpu_seconds']:.1f}/{raw['cpu_seconds']:.1f}",
        )
    )

    _, peaks["evaluate"], ev = _stage(
        work,
        "evaluate",
        "--url",
        sqlite_url,
        "--iterations",
        str(n_iter),
        "--max-users",
        str(EVAL_USERS),
    )
    for name in ("pop", "als"):
        results.append(
            Result(
                "scale",
                f"evaluation NDCG@10 ({name})",
                ev["ndcg"][name],
                "",
                peak_rss_mb=peaks["evaluate"],
                note=f"random 80/10/10 split, {ev['users_evaluated']:,} test users ranked over"
                f" all items; fit {ev['fit_seconds'][name]:.1f} s,"
                f" rank {ev['rank_seconds'][name]:.1f} s",
            )
        )
    results.append(
        Result(
            "scale",
            "evaluation pipeline",
            ev["seconds"],
            "s",
            peak_rss_mb=peaks["evaluate"],
            note=f"load + split {ev['load_and_split_seconds']:.1f} s, then fit and rank pop + ALS",
        )
    )

    worst = max(peaks, key=lambda stage: peaks[stage])
    results.append(
        Result(
            "scale",
            "pipeline peak RSS",
            peaks[worst],
            "MB",
            peak_rss_mb=peaks[worst],
            note=f"largest stage: {worst}; target < {PIPELINE_TARGET_MB:,} MB; stages: "
            + ", ".join(f"{stage} {mb:,.0f}" for stage, mb in peaks.items()),
        )
    )
    return list(results)


ALS_NOTE = "64 factors, incl. our BM25 weighting"
