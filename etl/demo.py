"""`recsys etl demo`: write the synthetic demo catalogue, then load it like any CSV source.

The folder `RECSYS_HOME/demo/` holds `listens.csv` (user,track,timestamp play
events), `tags.csv` (user,track,tag as typed), `catalogue.csv`
(track,title,artist,audio_path relative to the file), `audio/*.wav` (16-bit,
mono) and `truth.json` (the generator's ground truth, for tests and notebooks).
It is rebuilt in a temporary sibling folder and swapped in at the end, so a
crash never leaves a half-written catalogue behind.

With `audio_dir`, the world is built around real recordings instead
(`etl.demo_labels` reads their labels file): one track per labelled file, the
catalogue's `audio_path` is the file's absolute path (nothing is copied, there
is no `audio/` folder), and the true tags are the file's labels. The same seed gives
byte-identical files; loading goes through `etl.csv_source.load_csv`, so the
demo exercises the real ETL path (events aggregation, tag normalisation).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.demo_audio import ClipPlan, render_clip
from etl.demo_world import (
    COLD_SHARE,
    GENRES,
    INFORMATIVE,
    INSTRUMENTS,
    MIN_TRACKS,
    MOODS,
    UNINFORMATIVE,
    DemoWorld,
    build_world,
    build_world_from_labels,
)
from recommender.errors import DataFileError, InputError
from recommender.tags.normalize import normalize_tag

if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlalchemy import Engine

    from etl.demo_labels import LabelledAudio
    from etl.runs import RunSummary

GENERATOR_VERSION = 1


@dataclass(frozen=True)
class DemoFiles:
    directory: Path
    listens: Path
    tags: Path
    catalogue: Path
    audio_dir: Path
    truth: Path

    @classmethod
    def at(cls, directory: Path) -> DemoFiles:
        return cls(
            directory=directory,
            listens=directory / "listens.csv",
            tags=directory / "tags.csv",
            catalogue=directory / "catalogue.csv",
            audio_dir=directory / "audio",
            truth=directory / "truth.json",
        )


def generate_demo(
    out_dir: Path,
    *,
    users: int = 200,
    tracks: int = 300,
    seed: int = 0,
    clip_seconds: float = 6.0,
    sample_rate: int = 22050,
    workers: int | None = 1,
    progress: Progress | None = None,
    audio_dir: Path | None = None,
) -> DemoFiles:
    """Write the demo catalogue to `out_dir`, replacing what was there.

    `workers` > 1 (or None: all cores) renders audio in processes; the files do
    not depend on it. With `audio_dir` (a folder of recordings with a labels.csv),
    the world is built around those files and `tracks`, `clip_seconds` and
    `sample_rate` do not apply.
    """
    from etl.demo_labels import read_labelled_audio

    out_dir = Path(out_dir).absolute()
    audio = None
    if audio_dir is None:
        world = build_world(users=users, tracks=tracks, seed=seed)
    else:
        audio = read_labelled_audio(audio_dir, min_files=MIN_TRACKS)
        world = build_world_from_labels(audio, users=users, seed=seed)
    staging = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        files = DemoFiles.at(staging)
        files.directory.mkdir(parents=True)
        _write_catalogue(files, world)
        _write_listens(files.listens, world)
        _write_tags(files.tags, world)
        if audio is None:
            files.audio_dir.mkdir()
            _render_audio(files, world, clip_seconds, sample_rate, workers, progress)
            truth = _truth(world, seed=seed, clip_seconds=clip_seconds, sample_rate=sample_rate)
        else:
            truth = _labelled_truth(world, audio, seed=seed)
        files.truth.write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n")
        _swap_in(staging, out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise DataFileError(f"cannot write the demo catalogue to {out_dir}: {exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return DemoFiles.at(out_dir)


def load_demo(
    engine: Engine,
    home: Path,
    *,
    users: int = 200,
    tracks: int = 300,
    seed: int = 0,
    clip_seconds: float = 6.0,
    sample_rate: int = 22050,
    workers: int | None = 1,
    progress: Progress | None = None,
    audio_dir: Path | None = None,
    audio_root: Path | None = None,
) -> RunSummary:
    """Generate `home/demo/` and load it into the database through the CSV source.

    Its audio root is its own: `audio_dir`, else the demo folder, which must lie inside
    the configured `audio_root` (RECSYS_AUDIO_ROOT) if there is one, or the scan would
    refuse every file."""
    from etl.csv_source import load_csv
    from recommender.audio.files import inside

    own_root = Path(audio_dir).expanduser().absolute() if audio_dir else Path(home) / "demo"
    if audio_root is not None and inside(own_root, audio_root) is None:
        raise InputError(
            f"the demo's audio folder {own_root} is outside RECSYS_AUDIO_ROOT={audio_root};"
            " unset it, or use a --home (or --audio-dir) inside it"
        )
    files = generate_demo(
        Path(home) / "demo",
        users=users,
        tracks=tracks,
        seed=seed,
        clip_seconds=clip_seconds,
        sample_rate=sample_rate,
        workers=workers,
        progress=progress,
        audio_dir=audio_dir,
    )
    return load_csv(
        engine,
        listens=files.listens,
        tags=files.tags,
        catalogue=files.catalogue,
        progress=progress,
        source="demo",
        audio_root=own_root,
    )


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Replace `out_dir` by `staging` with two renames (a directory cannot be os.replace'd)."""
    retired = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    if out_dir.exists():
        out_dir.rename(retired)
    staging.rename(out_dir)
    shutil.rmtree(retired, ignore_errors=True)


def _csv_writer(handle) -> Any:
    return csv.writer(handle, lineterminator="\n")


def _write_catalogue(files: DemoFiles, world: DemoWorld) -> None:
    with files.catalogue.open("w", newline="", encoding="utf-8") as handle:
        writer = _csv_writer(handle)
        writer.writerow(["track", "title", "artist", "audio_path"])
        for j, (track, title, artist) in enumerate(
            zip(world.track_ids, world.titles, world.artists, strict=True)
        ):
            writer.writerow([track, title, artist, _audio_path(world, j)])


def _audio_path(world: DemoWorld, track: int) -> str:
    """Relative to the catalogue for rendered clips; the recording's absolute path otherwise."""
    if world.audio_files is not None:
        return str(world.audio_files[track])
    return f"audio/{world.track_ids[track]}.wav"


def _write_listens(path: Path, world: DemoWorld) -> None:
    users, tracks = world.user_ids, world.track_ids
    with path.open("w", encoding="utf-8") as handle:
        handle.write("user,track,timestamp\n")
        handle.writelines(
            f"{users[u]},{tracks[t]},{when}\n" for u, t, when in world.events.tolist()
        )


def _write_tags(path: Path, world: DemoWorld) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = _csv_writer(handle)
        writer.writerow(["user", "track", "tag"])
        for u, t, tag in world.tags:
            writer.writerow([world.user_ids[u], world.track_ids[t], tag])


def _render_one(task: tuple[ClipPlan, float, int, str]) -> None:
    import soundfile as sf

    plan, seconds, sample_rate, path = task
    samples = render_clip(plan, seconds=seconds, sample_rate=sample_rate)
    sf.write(path, samples, sample_rate, subtype="PCM_16", format="WAV")


def _render_audio(
    files: DemoFiles,
    world: DemoWorld,
    seconds: float,
    sample_rate: int,
    workers: int | None,
    progress: Progress | None,
) -> None:
    tasks = [
        (plan, seconds, sample_rate, str(files.audio_dir / f"{track}.wav"))
        for plan, track in zip(world.plans, world.track_ids, strict=True)
    ]
    task_id = progress.add_task("synthesising audio", total=len(tasks)) if progress else None
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(_render_one, tasks, chunksize=8):
                if progress is not None:
                    progress.advance(task_id)
    else:
        for task in tasks:
            _render_one(task)
            if progress is not None:
                progress.advance(task_id)


def _truth(world: DemoWorld, *, seed: int, clip_seconds: float, sample_rate: int) -> dict[str, Any]:
    """truth.json of the synthetic world."""
    return {
        "generator": {
            "version": GENERATOR_VERSION,
            "seed": seed,
            "users": len(world.user_ids),
            "tracks": len(world.track_ids),
            "clip_seconds": clip_seconds,
            "sample_rate": sample_rate,
        },
        "vocabulary": {
            "genre": list(GENRES),
            "mood": list(MOODS),
            "instrument": list(INSTRUMENTS),
            "informative": list(INFORMATIVE),
            "uninformative": list(UNINFORMATIVE),
        },
        "counts": _counts(world),
        "tracks": {
            track: {
                "title": world.titles[j],
                "artist": world.artists[j],
                "genre": GENRES[world.genre[j]],
                "mood": MOODS[world.mood[j]],
                "instruments": list(world.instruments[j]),
                "tags": world.true_tags(j),
                "cold": bool(world.cold[j]),
                "tempo": world.plans[j].tempo,
                "key": world.plans[j].key,
                "audio_path": f"audio/{track}.wav",
            }
            for j, track in enumerate(world.track_ids)
        },
        "users": _tastes(world),
    }


def _labelled_truth(world: DemoWorld, audio: LabelledAudio, *, seed: int) -> dict[str, Any]:
    """truth.json of a world built around recordings: their labels are the true tags."""
    primary = world.facets[0].name
    return {
        "generator": {
            "version": GENERATOR_VERSION,
            "seed": seed,
            "users": len(world.user_ids),
            "tracks": len(world.track_ids),
            "audio_dir": str(audio.directory),
            "labels_file": str(audio.labels_file),
            "artists": audio.artist_source,
            "cold": f"per {primary}: a run of {COLD_SHARE:.0%} of its files, neighbours by path",
        },
        "vocabulary": {
            "facets": {facet.name: list(facet.values) for facet in world.facets},
            "informative": list(world.informative),
            "uninformative": list(UNINFORMATIVE),
        },
        "counts": _counts(world),
        "tracks": {
            track: {
                "title": world.titles[j],
                "artist": world.artists[j],
                "labels": {name: list(values) for name, values in world.labels[j].items()},
                "tags": world.true_tags(j),
                "cold": bool(world.cold[j]),
                "path": audio.relative[j],
                "audio_path": _audio_path(world, j),
            }
            for j, track in enumerate(world.track_ids)
        },
        "users": _tastes(world),
    }


def _counts(world: DemoWorld) -> dict[str, int]:
    distinct_tags = {(u, t, normalize_tag(tag)) for u, t, tag in world.tags}
    return {
        "users": len(world.user_ids),
        "tracks": len(world.track_ids),
        "cold_tracks": int(world.cold.sum()),
        "listens": len(world.listens),
        "plays": int(world.listens[:, 2].sum()),
        "listen_events": len(world.events),
        "tag_rows": len(world.tags),
        "tag_assignments": len(distinct_tags),
        "tags": len({tag for _, _, tag in distinct_tags}),
    }


def _tastes(world: DemoWorld) -> dict[str, Any]:
    return {
        user: {
            "taste": {
                tag: round(float(w), 6)
                for tag, w in zip(world.informative, world.taste[i], strict=True)
            }
        }
        for i, user in enumerate(world.user_ids)
    }
