"""Catalogue scan: featurise every track with an audio path and store its song vector.

Parallel across processes (recommender.audio.batch.make_pool); resumable (a
track whose file checksum already has features for this extractor version is
skipped); tolerant: a file that cannot be decoded is recorded in `rejects`
(reason `audio_undecodable`, the file path, the message), and so is one that is no
longer there (`audio_missing`; a catalogue row naming a missing file is reported at
load time, with its catalogue line, and its track has no audio to scan), and the scan
carries on. Results are committed in batches, so an interrupted scan keeps its work.

Confined: the scan reads only what the catalogue named. A path that now resolves
elsewhere (a symlink made since the load) or, with an audio root configured
(`RECSYS_AUDIO_ROOT`), outside it is refused unopened (reason `audio_outside_root`);
devices, FIFOs and files over the byte cap are never read (`recommender.audio.files`).

What is stored (see recommender.services.audio_features): the summary vector, plus an evenly
spaced sample of frame vectors from which the tagger learns its bag-of-frames
codebook at training time, so training never re-decodes audio.

MIDI and MusicXML audio paths are rendered to audio by `load_audio`. A notice the
workers raise (a `RecsysWarning`, e.g. the built-in synthesizer was used) travels back
with their results and is warned once, by the scan, in the calling process.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import Engine, and_, delete, insert, select, update

from recommender.audio.config import FeatureConfig
from recommender.audio.files import inside, max_audio_bytes
from recommender.errors import RecsysWarning
from recommender.services.audio_steps import AUDIO_MISSING
from recommender.storage.schema import Reject, Track, TrackFeatures

if TYPE_CHECKING:
    from etl.runs import RunSummary

UNDECODABLE = "audio_undecodable"
FEATURE_ERROR = "audio_feature_error"
OUTSIDE_ROOT = "audio_outside_root"
FILE_REASONS = (UNDECODABLE, AUDIO_MISSING, OUTSIDE_ROOT)  # a scan's word on a file; newest wins
BATCH = 32


@dataclass
class ScanSummary:
    run_id: int
    extractor_version: str
    tracks: int = 0  # tracks with an audio path
    extracted: int = 0
    skipped: int = 0  # unchanged file, features already stored
    failed: int = 0
    audio_seconds: float = 0.0  # audio analysed in this run
    seconds: float = 0.0  # wall time
    failures: list[dict[str, str]] = field(default_factory=list)  # track, file, reason, message
    notices: list[str] = field(default_factory=list)  # each RecsysWarning, once

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_checksum(handle: BinaryIO) -> str:
    """sha256 of an open file (opened by `open_audio`, so at most the byte cap)."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def extract_one(
    track_id: int, path: str, known_checksum: str | None, config_json: str
) -> dict[str, Any]:
    """Worker: checksum the file, skip it if unchanged, else return its features as bytes
    (and, as `notice`, what a RecsysWarning raised while extracting them said)."""
    result: dict[str, Any] = {"track_id": track_id, "path": path}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecsysWarning)
        result |= _extract_one(path, known_checksum, config_json)
    for w in caught:
        if issubclass(w.category, RecsysWarning):
            result["notice"] = str(w.message)
        else:  # not ours to collect: show it as it would have been
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return result


def _extract_one(path: str, known_checksum: str | None, config_json: str) -> dict[str, Any]:
    from recommender.audio.files import open_audio
    from recommender.audio.song_vector import extract_file
    from recommender.errors import AudioDecodeError
    from recommender.services.audio_features import to_bytes

    file = Path(path)
    if not os.path.lexists(file):
        return {
            "status": "failed",
            "reason": AUDIO_MISSING,
            "message": f"{path}: no such file (moved since the catalogue was loaded? fix its"
            " audio_path and reload it with `recsys etl csv --catalogue FILE`)",
        }
    try:  # a symlink here appeared after the driver's check: refused like any other
        with open_audio(file, follow_symlinks=False) as handle:
            checksum = file_checksum(handle)
    except AudioDecodeError as exc:
        return {"status": "failed", "reason": UNDECODABLE, "message": str(exc)}
    except OSError as exc:
        return {"status": "failed", "reason": UNDECODABLE, "message": f"{path}: unreadable ({exc})"}
    if checksum == known_checksum:
        return {"status": "skipped"}
    config = FeatureConfig.from_json(config_json)
    try:
        features = extract_file(file, config)
    except AudioDecodeError as exc:
        return {"status": "failed", "reason": UNDECODABLE, "message": str(exc)}
    except Exception as exc:  # a feature bug on one file must not stop the catalogue
        return {"status": "failed", "reason": FEATURE_ERROR, "message": f"{path}: {exc!r}"}
    return {
        "status": "ok",
        "checksum": checksum,
        "summary": to_bytes(features.summary),
        "summary_dim": int(features.summary.size),
        "frames": to_bytes(features.frames),
        "frame_dim": int(features.frames.shape[1]),
        "seconds": features.seconds,
    }


def _resolve(audio_path: str, base_dir: Path) -> str:
    path = Path(audio_path).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


def refusal(track_id: int, path: str, root: Path | None) -> dict[str, Any] | None:
    """The failed result of a path the scan must not open, else None: one resolving
    outside `root`, or through a symlink (the load stored every path resolved, so a
    symlink on the way now was made since and may point anywhere)."""
    if "\x00" in path:
        message = f"{path!r}: not a file path (NUL byte); fix the catalogue row"
    elif root is not None and inside(path, root) is None:
        message = f"{path}: outside the audio root {root} (RECSYS_AUDIO_ROOT); not read"
    elif os.path.realpath(path) != os.path.normpath(path):
        message = (
            f"{path}: resolves to {os.path.realpath(path)} through a symlink made since the"
            " catalogue was loaded; not read (load the catalogue again)"
        )
    else:
        return None
    return {
        "track_id": track_id,
        "path": path,
        "status": "failed",
        "reason": OUTSIDE_ROOT,
        "message": message,
    }


def _write_batch(
    engine: Engine, results: list[dict[str, Any]], config: FeatureConfig, run: RunSummary
) -> None:
    """Store `results` and the run's counts so far in one transaction."""
    from etl.runs import record

    run_id = run.run_id
    versions = [config.extractor_version, config.frames_version]
    with engine.begin() as conn:
        record(conn, run, done=False)  # the run log counts only what committed
        for r in results:
            if r["status"] == "skipped":
                continue
            conn.execute(
                delete(TrackFeatures).where(
                    and_(
                        TrackFeatures.track_id == r["track_id"],
                        TrackFeatures.extractor_version.in_(versions),
                    )
                )
            )
            if r["status"] == "ok":
                _forget_file_rejects(conn, r["path"])  # a file that decodes now is no reject
                conn.execute(
                    insert(TrackFeatures),
                    [
                        {
                            "track_id": r["track_id"],
                            "extractor_version": config.extractor_version,
                            "checksum": r["checksum"],
                            "dim": r["summary_dim"],
                            "vector": r["summary"],
                        },
                        {
                            "track_id": r["track_id"],
                            "extractor_version": config.frames_version,
                            "checksum": r["checksum"],
                            "dim": r["frame_dim"],
                            "vector": r["frames"],
                        },
                    ],
                )
                conn.execute(
                    update(Track).where(Track.id == r["track_id"]).values(checksum=r["checksum"])
                )
            else:  # the newest run owns the reject row for this file
                _forget_file_rejects(conn, r["path"])
                conn.execute(
                    insert(Reject).values(
                        run_id=run_id,
                        file=r["path"],
                        line=0,
                        reason=r["reason"],
                        raw=r["message"][:4096],
                    )
                )


def _forget_file_rejects(conn, path: str) -> None:
    conn.execute(
        delete(Reject).where(
            and_(Reject.file == path, Reject.line == 0, Reject.reason.in_(FILE_REASONS))
        )
    )


def scan_catalogue(
    engine: Engine,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    config: FeatureConfig | None = None,
    base_dir: Path | None = None,
    root: Path | None = None,
    runner: Callable[[list[tuple]], Iterable[dict[str, Any]]] | None = None,
) -> ScanSummary:
    """Extract features for every track with an audio path; `progress(done, total)` after each.

    Relative audio paths resolve against `base_dir` (default: the working directory).
    Paths outside `root` (when given), or reached through a symlink, are refused unread.
    `runner(tasks)` yields `extract_one(*task)` for each task in any order (default: the
    local process pool; etl.spark_audio.spark_results runs them on Spark).
    `workers` defaults to every core; 1 runs in this process.
    """
    from etl.runs import tracked_run

    config = config or FeatureConfig()
    max_audio_bytes()  # a bad RECSYS_AUDIO_MAX_BYTES stops the scan before it starts
    workers = max(1, workers or os.cpu_count() or 1)
    base_dir = (base_dir or Path.cwd()).absolute()
    started = time.perf_counter()
    summary = ScanSummary(run_id=0, extractor_version=config.extractor_version)

    def counts() -> str:
        return (
            f"{summary.extracted} extracted, {summary.skipped} unchanged, {summary.failed} failed"
        )

    with tracked_run(
        engine,
        "audio",
        {"workers": workers, "extractor_version": config.extractor_version},
        ok_message=counts,
    ) as run:
        summary.run_id = run.run_id
        with engine.connect() as conn:
            tracks = conn.execute(
                select(Track.id, Track.external_id, Track.audio_path)
                .where(Track.audio_path.is_not(None))
                .order_by(Track.id)
            ).all()
            known = dict(
                conn.execute(
                    select(TrackFeatures.track_id, TrackFeatures.checksum).where(
                        TrackFeatures.extractor_version == config.extractor_version
                    )
                ).all()
            )
        names = {t.id: t.external_id for t in tracks}
        refused, tasks = [], []
        for t in tracks:
            path = _resolve(t.audio_path, base_dir)
            refused_one = refusal(t.id, path, root)
            if refused_one is not None:
                refused.append(refused_one)
            else:
                tasks.append((t.id, path, known.get(t.id), config.to_json()))
        summary.tracks = run.rows_in = len(tracks)
        pending: list[dict[str, Any]] = []
        results = runner(tasks) if runner else _results(tasks, workers)
        for done, result in enumerate(chain(refused, results), start=1):
            _count(summary, result, names)
            run.rows_loaded, run.rows_rejected = summary.extracted, summary.failed
            pending.append(result)
            if len(pending) >= BATCH:
                _write_batch(engine, pending, config, run)
                pending = []
            if progress is not None:
                progress(done, len(tracks))
        _write_batch(engine, pending, config, run)
        summary.seconds = time.perf_counter() - started
    for notice in summary.notices:
        warnings.warn(notice, RecsysWarning, stacklevel=2)
    return summary


def _results(tasks: list[tuple], workers: int):
    if workers == 1 or len(tasks) <= 1:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # as in the pool's workers: one process, one thread
            for task in tasks:
                yield extract_one(*task)
        return
    from recommender.audio.batch import make_pool

    with make_pool(min(workers, len(tasks))) as pool:
        futures = [pool.submit(extract_one, *task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()


def _count(summary: ScanSummary, result: dict[str, Any], names: dict[int, str]) -> None:
    notice = result.get("notice")
    if notice and notice not in summary.notices:
        summary.notices.append(notice)
    if result["status"] == "ok":
        summary.extracted += 1
        summary.audio_seconds += result["seconds"]
    elif result["status"] == "skipped":
        summary.skipped += 1
    else:
        summary.failed += 1
        summary.failures.append(
            {
                "track": names[result["track_id"]],
                "file": result["path"],
                "reason": result["reason"],
                "message": result["message"],
            }
        )
