"""What every benchmark shares: the run context, one result row, peak memory, the report."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Result:
    benchmark: str
    metric: str
    value: float
    unit: str = ""
    baseline: float | None = None  # the reference measured in the same run
    peak_rss_mb: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """ours / reference (for times: < 1 is faster; for rates: > 1 is faster)."""
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


@dataclass
class BenchContext:
    scale: float
    out_dir: Path
    work_dir: Path
    machine: dict = field(default_factory=dict)

    @classmethod
    def create(cls, *, scale: float, out_dir: Path) -> BenchContext:
        out_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="recsys-bench-"))
        return cls(scale=scale, out_dir=out_dir, work_dir=work, machine=machine_info())


def machine_info() -> dict:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2, 1),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _spin(_: int) -> int:
    total = 0
    for i in range(5_000_000):
        total += i
    return total


def parallel_ceiling(processes: int) -> float:
    """How much faster `processes` busy processes finish than one, on this machine now.

    Virtual cores are often shared: a speed-up is only judged against this ceiling.
    """
    from concurrent.futures import ProcessPoolExecutor

    timings = []
    for workers in (1, processes):
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_spin, range(processes)))  # warm the workers up
            started = time.perf_counter()
            list(pool.map(_spin, range(processes * 2)))
            timings.append(time.perf_counter() - started)
    return timings[0] / timings[1]


def run_measured(cmd: list[str], **kwargs) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run a command in a fresh process; return (wall seconds, its peak RSS in MB, result).

    GNU time would do this too, but the Python interpreter is always there.
    """
    wrapper = [
        sys.executable,
        "-c",
        "import resource,subprocess,sys,time,json;t=time.perf_counter();"
        "r=subprocess.run(sys.argv[1:]);"
        "print(json.dumps([time.perf_counter()-t,"
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024]),file=sys.stderr);"
        "sys.exit(r.returncode)",
        *cmd,
    ]
    proc = subprocess.run(wrapper, capture_output=True, text=True, **kwargs)
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "[0, 0]"
    seconds, rss = json.loads(last)
    return seconds, rss, proc


def write_report(ctx: BenchContext, results: list[Result]) -> tuple[Path, Path]:
    payload = {
        "scale": ctx.scale,
        "machine": ctx.machine,
        "results": [asdict(r) | {"ratio": r.ratio} for r in results],
    }
    json_path = ctx.out_dir / "latest.json"
    json_path.write_text(json.dumps(payload, indent=2, default=str))
    lines = [
        f"# recsys benchmarks (scale {ctx.scale})",
        "",
        f"{ctx.machine.get('cpu')}, {ctx.machine.get('cores')} cores, "
        f"{ctx.machine.get('memory_gb')} GB, Python {ctx.machine.get('python')},"
        f" {ctx.machine.get('time')}",
        "",
        "| benchmark | metric | value | unit | reference | ours/ref | peak RSS MB | note |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        ref = f"{r.baseline:,.3f}" if r.baseline is not None else ""
        rss = f"{r.peak_rss_mb:,.0f}" if r.peak_rss_mb is not None else ""
        lines.append(
            f"| {r.benchmark} | {r.metric} | {r.value:,.3f} | {r.unit} | {ref} | {ratio}"
            f" | {rss} | {r.note} |"
        )
    md_path = ctx.out_dir / "latest.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path
