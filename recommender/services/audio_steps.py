"""The next step to audio features and a tagger, read from what the database holds.

One place for the hints of `recsys tag`, `recsys train tagger` and `recsys etl audio`,
so that none of them sends a user to a step that does nothing: `recsys etl audio` on a
catalogue without audio paths, or `recsys train tagger` before any audio is scanned.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from recommender.audio.config import FeatureConfig
from recommender.errors import InputError
from recommender.storage.schema import Reject, Track, TrackFeatures

AUDIO_MISSING = "audio_missing"  # reject reason: a catalogue row names a file that is not there
LOAD_AUDIO = (
    "list your audio files in a catalogue (columns track,audio_path; paths relative to it)"
    " and load it with `recsys etl csv --catalogue FILE`"
)
TRAIN_ON_LABELS = "`recsys train tagger --labels FILE` (your labels: columns track,tag)"


@dataclass(frozen=True)
class AudioState:
    tracks_with_audio: int  # tracks whose catalogue row named an audio file
    scanned: int  # tracks with song vectors of the current extractor
    missing_files: int  # catalogue rows quarantined because their audio file was not there


def audio_state(engine: Engine, config: FeatureConfig | None = None) -> AudioState:
    version = (config or FeatureConfig()).extractor_version
    with engine.connect() as conn:

        def count(stmt) -> int:
            return int(conn.execute(stmt).scalar_one())

        return AudioState(
            tracks_with_audio=count(
                select(func.count()).select_from(Track).where(Track.audio_path.is_not(None))
            ),
            scanned=count(
                select(func.count())
                .select_from(TrackFeatures)
                .where(TrackFeatures.extractor_version == version)
            ),
            missing_files=count(
                select(func.count()).select_from(Reject).where(Reject.reason == AUDIO_MISSING)
            ),
        )


def _no_audio(state: AudioState) -> str:
    missing = (
        f" ({state.missing_files:,} catalogue rows name files that are not there:"
        " `recsys db rejects`)"
        if state.missing_files
        else ""
    )
    return f"no track in the database has an audio file{missing}"


def steps_to_audio_features(engine: Engine) -> str | None:
    """What to run to get song vectors from what the database holds now (None: they exist)."""
    state = audio_state(engine)
    if not state.tracks_with_audio:
        return f"{_no_audio(state)}: {LOAD_AUDIO}, then scan it with `recsys etl audio`"
    if not state.scanned:
        return (
            f"no audio scanned yet ({state.tracks_with_audio:,} track(s) have audio files):"
            " run `recsys etl audio`"
        )
    return None


def no_audio_features(engine: Engine, what: str = "to train a tagger on") -> InputError:
    """The error of a command that needs song vectors when there are none."""
    steps = steps_to_audio_features(engine) or "run `recsys etl audio`"
    return InputError(f"no audio features {what}: {steps}")


def steps_to_a_tagger(engine: Engine) -> str:
    """What to run, in order, to get a trained tagger from what the database holds now."""
    first = steps_to_audio_features(engine)
    if first is None:
        return (
            f"train one with {TRAIN_ON_LABELS}, or on the crowd's tags with `recsys train tagger`"
        )
    return f"{first}, then train one with {TRAIN_ON_LABELS}"


def nothing_to_scan(engine: Engine) -> str:
    """Why `recsys etl audio` found nothing to do, and what to do instead."""
    state = audio_state(engine)
    return f"nothing to scan: {_no_audio(state)}; {LOAD_AUDIO} (or try `recsys etl demo`)"
