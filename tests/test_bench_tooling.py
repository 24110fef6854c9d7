"""`python -m bench` (what `make bench` runs) works end to end at a tiny scale and reports sanely.

Runs the Last.fm-360K-scale pipeline benchmark at scale 0.001 (18K listens): every
stage in its own process, SQLite and the real PostgreSQL, so the tooling cannot
silently rot. Speed itself is never asserted here (benchmarks measure it).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL, REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STAGE_METRICS = {
    "generate synthetic CSV",
    "etl csv listens+tags -> SQLite",
    "etl csv listens+tags -> PostgreSQL",
    "database -> matrix (SQLite)",
    "database -> matrix (PostgreSQL)",
    "ALS fit seconds per iteration",
    "batch top-10 for every user",
    "evaluation NDCG@10 (pop)",
    "evaluation NDCG@10 (als)",
    "evaluation pipeline",
    "pipeline peak RSS",
}


def _require_postgres() -> None:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {exc}")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    _require_postgres()
    out = tmp_path_factory.mktemp("bench")
    env = dict(os.environ, RECSYS_BENCH_POSTGRES_URL=POSTGRES_URL)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scale",
            "0.001",
            "--only",
            "scale_bench",
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "latest.json").read_text()), (out / "latest.md").read_text()


def test_json_has_machine_info_and_well_formed_results(report):
    payload, _ = report
    assert payload["scale"] == 0.001
    machine = payload["machine"]
    assert machine["cores"] >= 1 and machine["memory_gb"] > 0
    assert machine["python"] and machine["cpu"] and machine["time"]
    results = payload["results"]
    assert {r["metric"] for r in results} == STAGE_METRICS
    for r in results:
        assert r["benchmark"] == "scale"
        assert isinstance(r["unit"], str)
        assert math.isfinite(r["value"]), r
        assert r["peak_rss_mb"] is not None and 10 < r["peak_rss_mb"] < 8 * 1024, r


def test_figures_are_plausible(report):
    results = {r["metric"]: r for r in report[0]["results"]}
    for metric in ("ALS fit seconds per iteration", "batch top-10 for every user"):
        r = results[metric]
        assert r["value"] > 0 and r["baseline"] > 0
        assert r["ratio"] == pytest.approx(r["value"] / r["baseline"])
    for db in ("SQLite", "PostgreSQL"):
        assert results[f"etl csv listens+tags -> {db}"]["value"] > 0
        assert results[f"etl csv listens+tags -> {db}"]["baseline"] > 0  # plain bulk insert
        assert "0 rejected" in results[f"etl csv listens+tags -> {db}"]["note"]
        assert "tag events" in results[f"database -> matrix ({db})"]["note"]
    for name in ("pop", "als"):
        assert 0 < results[f"evaluation NDCG@10 ({name})"]["value"] <= 1
    peak = results["pipeline peak RSS"]
    stage_peaks = [r["peak_rss_mb"] for m, r in results.items() if m != "pipeline peak RSS"]
    assert peak["value"] == pytest.approx(max(stage_peaks))


def test_markdown_table_has_a_row_per_result(report):
    payload, markdown = report
    lines = markdown.splitlines()
    assert lines[0] == "# recsys benchmarks (scale 0.001)"
    assert payload["machine"]["cpu"] in markdown
    header = next(i for i, line in enumerate(lines) if line.startswith("| benchmark |"))
    rows = [line for line in lines[header + 2 :] if line.startswith("|")]
    assert len(rows) == len(payload["results"])
    assert all(row.count("|") >= 9 for row in rows)
