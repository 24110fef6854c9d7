"""`recsys etl ...`: load a source into the database (the pipelines live in the `etl` package).

Each source is one command function below; adding a source is adding a function.
Commands print the run summary with `print_run_summary` (a table, or `--json`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from etl.options import UNKNOWN_ARTISTS
from recommender.cli.output import make_progress, number, print_json, print_table, say
from recommender.cli.state import state
from recommender.services.engines import ENGINES

app = typer.Typer(
    help="Load listening logs, tags and audio into the database.\n\nExample: recsys etl demo",
    no_args_is_help=True,
)

UnknownArtists = Literal[UNKNOWN_ARTISTS]
EngineName = Literal[ENGINES]


def print_run_summary(summary: Any, *, as_json: bool = False) -> None:
    """Show an `etl.runs.RunSummary`: loaded and rejected counts, per table and per reason."""
    if as_json:
        print_json(summary.to_dict())
        return
    rows = [
        ["run", summary.run_id],
        ["source", summary.source],
        ["rows in", summary.rows_in],
        ["rows loaded", summary.rows_loaded],
        ["rows rejected", summary.rows_rejected],
        ["seconds", number(summary.seconds, 2)],
    ]
    rows += [[f"written: {table}", count] for table, count in summary.loaded_by_table.items()]
    rows += [[f"rejected: {reason}", count] for reason, count in summary.rejected_by_reason.items()]
    print_table(f"etl {summary.source}", ["what", "count"], rows)
    if summary.rows_rejected:
        say("rejected rows: see `recsys db rejects`")


def _delimiter(value: str | None) -> str | None:
    if value is None:
        return None
    return {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(
        value.lower(), value
    )


@app.command("csv")
def csv_command(
    listens: Annotated[
        Path | None,
        typer.Option(
            "--listens",
            metavar="FILE",
            help="user,track,count or user,track,timestamp (CSV/TSV/Parquet).",
        ),
    ] = None,
    tags: Annotated[
        Path | None,
        typer.Option("--tags", metavar="FILE", help="user,track,tag[,timestamp]."),
    ] = None,
    catalogue: Annotated[
        Path | None,
        typer.Option("--catalogue", metavar="FILE", help="track,title,artist,audio_path."),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(
            "--delimiter",
            metavar="CHAR",
            help="Field separator: one character, or tab, comma, semicolon, pipe"
            " (default: sniffed).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
) -> None:
    """Load generic listens, tags and/or a catalogue; bad rows go to `recsys db rejects`.

    Example: recsys etl csv --listens plays.csv --tags tags.csv --catalogue tracks.csv
    """
    from etl.csv_source import load_csv

    with make_progress(quiet=state.quiet) as progress:
        summary = load_csv(
            state.engine,
            listens=listens,
            tags=tags,
            catalogue=catalogue,
            delimiter=_delimiter(delimiter),
            progress=progress,
            audio_root=state.settings.audio_root,
        )
    print_run_summary(summary, as_json=as_json)


@app.command("lastfm-2k")
def lastfm_2k_command(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="The hetrec2011-lastfm-2k folder.")
    ],
    unknown_artists: Annotated[
        UnknownArtists,
        typer.Option(
            "--unknown-artists",
            metavar="POLICY",
            help="Tagged artists missing from artists.dat (no name): reject quarantines their"
            " tag rows, create keeps them as items listed by id"
            f" (one of: {', '.join(UNKNOWN_ARTISTS)}).",
        ),
    ] = "reject",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
) -> None:
    """Load the HetRec 2011 Last.fm 2K dataset (artists are the items).

    Example: recsys etl lastfm-2k ../shared/data/hetrec2011-lastfm-2k
    """
    from etl.lastfm2k import load_lastfm_2k

    with make_progress(quiet=state.quiet) as progress:
        summary = load_lastfm_2k(state.engine, directory, progress, unknown_artists=unknown_artists)
    print_run_summary(summary, as_json=as_json)


@app.command("demo")
def demo_command(
    users: Annotated[
        int, typer.Option("--users", min=2, metavar="N", help="Number of synthetic listeners.")
    ] = 200,
    tracks: Annotated[
        int | None,
        typer.Option(
            "--tracks", min=10, metavar="N", help="Tracks (about 20% stay cold; default 300)."
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", metavar="SEED", help="Same seed, byte-identical catalogue.")
    ] = 0,
    clip_seconds: Annotated[
        float | None,
        typer.Option(
            "--clip-seconds",
            min=1.0,
            max=60.0,
            metavar="SECONDS",
            help="Length of each clip (default 6).",
        ),
    ] = None,
    audio_dir: Annotated[
        Path | None,
        typer.Option(
            "--audio-dir",
            metavar="DIR",
            help="Build the world around these recordings: DIR/labels.csv gives each file's"
            " labels (path plus label columns, or a ;-separated tags column).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            metavar="N",
            help="Audio rendering processes (default: all cores).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
) -> None:
    """Generate the demo catalogue (synthetic audio, or real recordings with --audio-dir) in
    RECSYS_HOME/demo, load it and extract its audio features.

    Example: recsys etl demo --users 100 --seed 1
    """
    from etl.demo import load_demo
    from recommender.errors import InputError

    if audio_dir is not None:
        for name, value in (("--tracks", tracks), ("--clip-seconds", clip_seconds)):
            if value is not None:
                raise InputError(f"{name} does not apply with --audio-dir (one track per file)")
    with make_progress(quiet=state.quiet) as progress:
        summary = load_demo(
            state.engine,
            state.settings.home,
            users=users,
            tracks=300 if tracks is None else tracks,
            seed=seed,
            clip_seconds=6.0 if clip_seconds is None else clip_seconds,
            workers=workers,
            progress=progress,
            audio_dir=audio_dir,
            audio_root=state.settings.audio_root,
        )
    print_run_summary(summary, as_json=as_json)
    if not as_json:
        say(f"demo catalogue: {state.settings.home / 'demo'}")
    scan_audio(workers, show=not as_json)  # the demo's audio is featurised too (see `etl audio`)


def scan_audio(
    workers: int | None, *, show: bool = True, as_json: bool = False, runner=None
) -> None:
    """Run the catalogue scan with a progress bar and print its summary."""
    from etl.audio_scan import FEATURE_ERROR, scan_catalogue

    with make_progress(quiet=state.quiet) as progress:
        task = progress.add_task("audio features", total=None)
        summary = scan_catalogue(
            state.engine,
            workers=workers,
            root=state.settings.audio_root,
            runner=runner,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if as_json:
        print_json(summary.to_dict())
    elif show and not summary.tracks:
        from recommender.services.audio_steps import nothing_to_scan

        say(nothing_to_scan(state.engine))
    elif show:
        rows = [
            ["extractor", summary.extractor_version],
            ["tracks with audio", summary.tracks],
            ["extracted", summary.extracted],
            ["unchanged (skipped)", summary.skipped],
            ["failed", summary.failed],
            ["audio seconds", number(summary.audio_seconds, 0)],
            ["seconds", number(summary.seconds, 1)],
        ]
        rows += [
            [f"failed: {f['track']}", f"{f['reason']}: {f['message']}"]
            for f in summary.failures[:20]
        ]
        print_table("etl audio", ["what", "value"], rows)
    bugs = [f for f in summary.failures if f["reason"] == FEATURE_ERROR]
    if bugs:  # undecodable files are the data's fault; a feature error is ours
        from recommender.errors import RecsysError

        raise RecsysError(
            f"feature extraction failed on {len(bugs)} file(s), e.g. {bugs[0]['message']}"
        )


@app.command("audio")
def audio_command(
    workers: int | None = typer.Option(
        None, "--workers", min=1, metavar="N", help="Processes (default: all cores)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
    engine: EngineName = typer.Option(
        "local",
        "--engine",
        metavar="ENGINE",
        help="local (process pool) or spark (same vectors).",
    ),
    spark_master: str | None = typer.Option(
        None, "--spark-master", metavar="URL", help="With --engine spark: master URL."
    ),
) -> None:
    """Extract audio features for every track with an audio path (resumable; failures: rejects).

    Example: recsys etl audio --workers 2
    """
    from recommender.services.engines import spark_for

    runner = None
    session = spark_for(engine, spark_master)
    if session is not None:
        from functools import partial

        from etl.spark_audio import spark_results

        runner = partial(spark_results, session=session)
    scan_audio(workers, as_json=as_json, runner=runner)
