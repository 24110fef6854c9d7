"""Training labels: the crowd's tags from the database, or a curated `track,tag` file.

Crowd mode: a track is positive for a tag when at least `min_users` distinct
users applied it. Only tracks someone tagged are labelled (an untagged track
is unknown, not negative). Tags with fewer than `min_positives` positive
tracks are left out, and so are uninformative tags, detected three ways (all
configurable): a stop list of well-known non-descriptive tags ("seen live",
"favorites", ...); tags on more than `max_track_share` of labelled tracks
(near-constant labels say nothing about the sound); and tags spread over more
than `max_artist_share` of artists when there are at least `min_artists`
(a descriptive tag follows the music, which clusters by artist; "awesome"
follows popularity and lands everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, select

from recommender.core.files import regular_file
from recommender.errors import DataFileError
from recommender.storage.schema import Tag, TagAssignment, Track
from recommender.tags.normalize import normalize_tag

STOP_TAGS = (
    "seen live",
    "favorites",
    "favourites",
    "favorite",
    "favourite",
    "my favorite",
    "my favourite",
    "awesome",
    "love",
    "loved",
    "albums i own",
    "check out",
    "spotify",
)


@dataclass(frozen=True)
class LabelConfig:
    min_users: int = 1
    min_positives: int = 5
    max_track_share: float = 0.5
    max_artist_share: float = 0.8
    min_artists: int = 10
    stop_tags: tuple[str, ...] = STOP_TAGS


@dataclass(frozen=True)
class LabelMatrix:
    track_ids: np.ndarray  # database ids of labelled tracks, sorted
    tag_names: list[str]
    Y: np.ndarray  # (n_tracks, n_tags) uint8
    excluded: dict[str, str] = field(default_factory=dict)  # tag -> why it is not predicted
    source: str = "crowd"
    skipped_rows: int = 0  # curated file rows that could not be used


def _exclusions(
    names: list[str], Y: np.ndarray, artists: np.ndarray, config: LabelConfig
) -> dict[str, str]:
    excluded: dict[str, str] = {}
    positives = Y.sum(axis=0)
    share = positives / max(1, Y.shape[0])
    known = artists != ""
    all_artists = np.unique(artists[known])
    stop = {normalize_tag(t) for t in config.stop_tags}
    for j, name in enumerate(names):
        if name in stop:
            excluded[name] = "stop list"
        elif positives[j] < config.min_positives:
            excluded[name] = f"{int(positives[j])} positive tracks < {config.min_positives}"
        elif share[j] > config.max_track_share:
            excluded[name] = f"on {share[j]:.0%} of tracks > {config.max_track_share:.0%}"
        elif len(all_artists) >= config.min_artists:
            tagged = np.unique(artists[known & (Y[:, j] > 0)])
            artist_share = len(tagged) / len(all_artists)
            if artist_share > config.max_artist_share:
                excluded[name] = (
                    f"spread over {artist_share:.0%} of artists > {config.max_artist_share:.0%}"
                )
    return excluded


def _finish(
    track_ids: np.ndarray,
    names: list[str],
    Y: np.ndarray,
    artists: np.ndarray,
    config: LabelConfig,
    source: str,
    skipped: int = 0,
) -> LabelMatrix:
    excluded = _exclusions(names, Y, artists, config)
    keep = [j for j, name in enumerate(names) if name not in excluded]
    return LabelMatrix(
        track_ids=track_ids,
        tag_names=[names[j] for j in keep],
        Y=Y[:, keep].astype(np.uint8),
        excluded=excluded,
        source=source,
        skipped_rows=skipped,
    )


def crowd_labels(engine: Engine, config: LabelConfig | None = None) -> LabelMatrix:
    """Label matrix from `tag_assignments`: distinct users per (track, tag) >= min_users."""
    config = config or LabelConfig()
    users = func.count(func.distinct(TagAssignment.user_id))
    query = (
        select(TagAssignment.track_id, Tag.name, users)
        .join(Tag, Tag.id == TagAssignment.tag_id)
        .group_by(TagAssignment.track_id, Tag.name)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        artist_rows = dict(conn.execute(select(Track.id, Track.artist)).all())
    if not rows:
        return LabelMatrix(np.zeros(0, np.int64), [], np.zeros((0, 0), np.uint8), source="crowd")
    track_ids = np.unique(np.array([r[0] for r in rows], dtype=np.int64))
    names = sorted({r[1] for r in rows})
    t_index = {t: i for i, t in enumerate(track_ids.tolist())}
    n_index = {n: j for j, n in enumerate(names)}
    Y = np.zeros((len(track_ids), len(names)), dtype=np.uint8)
    for track_id, name, count in rows:
        if count >= config.min_users:
            Y[t_index[track_id], n_index[name]] = 1
    artists = np.array([artist_rows.get(int(t)) or "" for t in track_ids], dtype=object)
    return _finish(track_ids, names, Y, artists, config, "crowd")


def curated_labels(engine: Engine, path: Path, config: LabelConfig | None = None) -> LabelMatrix:
    """Label matrix from a `track,tag` CSV of external track ids (experts, not the crowd).

    Every track named in the file is labelled; rows with an empty value or an
    unknown track are skipped and counted, so one bad row never loses the rest.
    """
    import pandas as pd

    config = config or LabelConfig()
    path = Path(path)
    regular_file(path, "label file (a CSV with columns track,tag)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataFileError(
            f"{path}: not a readable CSV ({exc}); expected columns track,tag"
        ) from None
    frame.columns = [c.strip().lower() for c in frame.columns]
    if not {"track", "tag"} <= set(frame.columns):
        raise DataFileError(
            f"{path}: header {list(frame.columns)} lacks track,tag; add a 'track,tag' header"
        )
    with engine.connect() as conn:
        known = dict(conn.execute(select(Track.external_id, Track.id)).all())
        artist_rows = dict(conn.execute(select(Track.id, Track.artist)).all())
    tracks = frame["track"].str.strip()
    tags = frame["tag"].map(normalize_tag)
    valid = (tracks != "") & (tags != "") & tracks.isin(known.keys())
    skipped = int((~valid).sum())
    if not valid.any():
        raise DataFileError(
            f"{path}: none of {len(frame)} rows names a known track with a tag; "
            "the track column must hold external track ids from the catalogue"
        )
    db_ids = tracks[valid].map(known).astype(np.int64).to_numpy()
    tag_values = tags[valid].to_numpy()
    track_ids = np.unique(db_ids)
    names = sorted(set(tag_values))
    Y = np.zeros((len(track_ids), len(names)), dtype=np.uint8)
    column = {name: j for j, name in enumerate(names)}
    Y[np.searchsorted(track_ids, db_ids), [column[t] for t in tag_values]] = 1
    artists = np.array([artist_rows.get(int(t)) or "" for t in track_ids], dtype=object)
    return _finish(track_ids, names, Y, artists, config, f"curated:{path.name}", skipped)
