"""`recsys tag FILE...`: the trained tagger's top tags for any audio file.

Files that decode are tagged and printed even when others in the same call fail;
each failure is one line on stderr and the exit code is then 2. A file unlike the
audio the tagger was trained on gets a one-line warning on stderr (exit code 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recommender.cli.output import err_console, print_json, print_table
from recommender.cli.state import state


def tag_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            help="Audio files (WAV, FLAC, Ogg, MP3, AU) or scores, rendered to audio:"
            " MIDI (.mid, .midi), MusicXML (.musicxml, .xml, .mxl)."
        ),
    ],
    top: int = typer.Option(5, "-n", "--top", min=1, metavar="N", help="How many tags per file."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Print the most likely tags, with probabilities, for each audio file or score.

    Example: recsys tag song.wav score.mid -n 3
    """
    from recommender.services.taggers import tag_files

    tagged = tag_files(state.settings, files, top=top)
    if as_json:
        if tagged.results:
            print_json(
                {
                    "model_version": tagged.model_version,
                    "novelty_threshold": tagged.novelty_threshold,
                    "results": tagged.results,
                }
            )
    else:
        for result in tagged.results:
            rows = [
                [t["tag"], f"{t['probability']:.3f}", "yes" if t["predicted"] else ""]
                for t in result["tags"]
            ]
            print_table(result["file"], ["tag", "probability", "predicted"], rows)
    for result in tagged.results:
        if result["in_distribution"] is False:
            err_console.print(
                f"warning: {result['file']} is unlike the audio this tagger was trained on"
                f" (novelty {result['novelty']:.1f} > {tagged.novelty_threshold:.1f});"
                " its tags are unreliable",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    if tagged.failures:
        for exc in tagged.failures[:-1]:
            err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise tagged.failures[-1]  # the entry point prints it and exits 2
