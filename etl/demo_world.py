"""The demo's simulated world: a tag vocabulary, a catalogue, listeners with tastes,
play events and noisy crowd tags.

Designed so every later feature has something real to find: users' plays follow
their (Dirichlet) tastes over the tracks' true labels, so collaborative
filtering can recover them; ~20% of tracks are cold (audio, no plays, no tags),
for cold-start; crowd tags are noisy and include tags everybody applies at
random ("favorites", "seen live", "awesome") that carry no information. Each
stochastic part draws from its own child of one SeedSequence, so changing how
one part is drawn never reshuffles the others.

The true labels come in facets (`Facet`: genre, mood, instrument), each with its
pull on plays, the spread of tastes over it and how often listeners tag it.
`build_world` invents a catalogue and renders its audio (`plans`);
`build_world_from_labels` takes real recordings and their labels
(`etl.demo_labels`) and simulates the same listeners around them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from etl.demo_audio import ClipPlan, plan_clip
from etl.demo_styles import GENRE_STYLES, INSTRUMENTS, MOOD_STYLES
from recommender.errors import InputError

if TYPE_CHECKING:
    from pathlib import Path

    from etl.demo_labels import LabelledAudio

GENRES: tuple[str, ...] = tuple(GENRE_STYLES)
MOODS: tuple[str, ...] = tuple(MOOD_STYLES)
UNINFORMATIVE: tuple[str, ...] = ("favorites", "seen live", "awesome")
INFORMATIVE: tuple[str, ...] = (*GENRES, *MOODS, *INSTRUMENTS)
VOCABULARY: tuple[str, ...] = (*INFORMATIVE, *UNINFORMATIVE)

COLD_SHARE = 0.2
MIN_TRACKS = 10
YEAR_START = 1_735_689_600  # 2025-01-01T00:00:00Z: play events spread over that year
YEAR_SECONDS = 365 * 24 * 3600

_ADJECTIVES = (
    "Velvet",
    "Silver",
    "Midnight",
    "Electric",
    "Hollow",
    "Golden",
    "Crimson",
    "Quiet",
    "Northern",
    "Paper",
    "Wild",
    "Glass",
    "Lunar",
    "Rusty",
    "Violet",
    "Static",
)
_NOUNS = (
    "Foxes",
    "Harbour",
    "Engines",
    "Orchard",
    "Pilots",
    "Lanterns",
    "Tides",
    "Sparrows",
    "Machines",
    "Rivers",
    "Ghosts",
    "Meadows",
    "Circuits",
    "Owls",
    "Wolves",
    "Satellites",
)
_TITLE_WORDS = (
    "Morning",
    "Rain",
    "Dust",
    "Echo",
    "Fire",
    "Window",
    "Shadow",
    "Light",
    "Road",
    "Ocean",
    "Winter",
    "Heart",
    "Signal",
    "Garden",
    "Storm",
    "Mirror",
    "Dream",
    "Stone",
    "Sky",
    "Bloom",
)


@dataclass(frozen=True)
class Facet:
    """One family of true labels (genre, mood, instrument, or a column of a labels file)."""

    name: str
    values: tuple[str, ...]  # tag names, normalised
    weight: float  # pull on plays: weight * taste . (the track's values, summing to 1)
    concentration: float  # Dirichlet concentration of the users' tastes over `values`
    recall: float  # chance that a listener who tags a track applies one of its true values


# The synthetic world's facets; a labels file's first column is taken as primary (like
# genre), its other columns as secondary (like mood).
FACETS: tuple[Facet, ...] = (
    Facet("genre", GENRES, weight=8.0, concentration=0.4, recall=0.8),
    Facet("mood", MOODS, weight=3.0, concentration=0.6, recall=0.5),
    Facet("instrument", INSTRUMENTS, weight=2.0, concentration=0.6, recall=0.5),
)
PRIMARY, SECONDARY = FACETS[0], FACETS[1]


@dataclass(frozen=True)
class DemoWorld:
    """Arrays indexed by user (U) and track (T) position; ids are `user-0001`, `track-0001`.

    L is the number of informative tags, the values of every facet in facet order.
    """

    user_ids: list[str]
    track_ids: list[str]
    titles: list[str]
    artists: list[str]  # per track
    facets: tuple[Facet, ...]
    labels: list[dict[str, tuple[str, ...]]]  # per track: facet name -> its true values
    truth: np.ndarray  # (T, L) 0/1: the true tags, columns in `informative` order
    cold: np.ndarray  # (T,) bool: audio but no plays and no tags
    taste: np.ndarray  # (U, L): a distribution per facet (sums to 1 each)
    listens: np.ndarray  # (P, 3) int64: user, track, play count
    events: np.ndarray  # (E, 3) int64: user, track, Unix seconds; sorted by time
    tags: list[tuple[int, int, str]]  # (user, track, tag as typed by the user)
    plans: list[ClipPlan] | None = None  # synthetic world: how each track's audio is rendered
    audio_files: list[Path] | None = None  # world around recordings: each track's file

    @cached_property
    def informative(self) -> tuple[str, ...]:
        return tuple(value for facet in self.facets for value in facet.values)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Every tag a crowd tag can be: the informative ones, then the uninformative."""
        return (*self.informative, *UNINFORMATIVE)

    def true_tags(self, track: int) -> list[str]:
        return [value for facet in self.facets for value in self.labels[track][facet.name]]

    def _single(self, facet: str) -> np.ndarray:
        names = next(f.values for f in self.facets if f.name == facet)
        return np.array([names.index(self.labels[j][facet][0]) for j in range(len(self.labels))])

    @cached_property
    def genre(self) -> np.ndarray:
        """(T,) index into the genre facet's values (the synthetic world, or a `genre` column)."""
        return self._single("genre")

    @cached_property
    def mood(self) -> np.ndarray:
        return self._single("mood")

    @cached_property
    def instruments(self) -> list[tuple[str, ...]]:
        return [labels["instrument"] for labels in self.labels]


def build_world(*, users: int, tracks: int, seed: int) -> DemoWorld:
    """Simulate the whole world; same arguments give the same world, bit for bit."""
    if users < 2:
        raise InputError(f"--users must be at least 2, got {users}")
    if tracks < MIN_TRACKS:
        raise InputError(f"--tracks must be at least {MIN_TRACKS}, got {tracks}")
    catalogue_rng, taste_rng, play_rng, event_rng, tag_rng, audio_rng = _rngs(seed)
    artists, genre, mood, instruments, titles = _catalogue(tracks, catalogue_rng)
    cold = np.zeros(tracks, dtype=bool)
    cold[catalogue_rng.choice(tracks, size=round(COLD_SHARE * tracks), replace=False)] = True
    labels = [
        {"genre": (GENRES[g],), "mood": (MOODS[m],), "instrument": ins}
        for g, m, ins in zip(genre, mood, instruments, strict=True)
    ]
    world = _simulate(
        FACETS, labels, cold, users=users, rngs=(taste_rng, play_rng, event_rng, tag_rng)
    )
    return DemoWorld(
        **world,
        titles=titles,
        artists=artists,
        plans=[
            plan_clip(genre=GENRES[g], mood=MOODS[m], instruments=ins, rng=audio_rng)
            for g, m, ins in zip(genre, mood, instruments, strict=True)
        ],
    )


def build_world_from_labels(audio: LabelledAudio, *, users: int, seed: int) -> DemoWorld:
    """The same listeners, plays and crowd tags around real recordings and their labels.

    Each labelled file is a track (in `audio`'s order). Cold tracks are drawn per
    primary label (the first label column): a run of round(COLD_SHARE * n)
    neighbouring files (in path order) of that label, at a seeded offset, so every
    label keeps most of its tracks to be learnt from and a cold run is a "new
    release" of adjacent clips rather than isolated ones between warm neighbours.
    """
    if users < 2:
        raise InputError(f"--users must be at least 2, got {users}")
    catalogue_rng, taste_rng, play_rng, event_rng, tag_rng, _ = _rngs(seed)
    facets = tuple(
        Facet(
            column,
            values,
            weight=(PRIMARY if i == 0 else SECONDARY).weight,
            concentration=(PRIMARY if i == 0 else SECONDARY).concentration,
            recall=(PRIMARY if i == 0 else SECONDARY).recall,
        )
        for i, (column, values) in enumerate(audio.columns.items())
    )
    primary = [track[facets[0].name] for track in audio.labels]
    cold = np.zeros(len(primary), dtype=bool)
    for key in sorted(set(primary)):
        members = np.flatnonzero([p == key for p in primary])
        n = round(COLD_SHARE * members.size)
        if n:
            start = int(catalogue_rng.integers(members.size - n + 1))
            cold[members[start : start + n]] = True
    world = _simulate(
        facets, audio.labels, cold, users=users, rngs=(taste_rng, play_rng, event_rng, tag_rng)
    )
    return DemoWorld(**world, titles=audio.titles, artists=audio.artists, audio_files=audio.paths)


def _rngs(seed: int) -> list[np.random.Generator]:
    """catalogue, taste, play, event, tag and audio generators, independent of one another."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]


def _simulate(
    facets: tuple[Facet, ...],
    labels: list[dict[str, tuple[str, ...]]],
    cold: np.ndarray,
    *,
    users: int,
    rngs: tuple[np.random.Generator, ...],
) -> dict:
    """Tastes, plays, events and crowd tags around a labelled catalogue (DemoWorld fields)."""
    taste_rng, play_rng, event_rng, tag_rng = rngs
    taste = np.concatenate(
        [taste_rng.dirichlet(np.full(len(f.values), f.concentration), size=users) for f in facets],
        axis=1,
    )
    truth = _track_matrix(facets, labels)
    listens = _listens(taste, truth, cold, facets, play_rng)
    vocabulary = (*(v for f in facets for v in f.values), *UNINFORMATIVE)
    return {
        "user_ids": [f"user-{i + 1:04d}" for i in range(users)],
        "track_ids": [f"track-{j + 1:04d}" for j in range(len(labels))],
        "facets": facets,
        "labels": labels,
        "truth": truth,
        "cold": cold,
        "taste": taste,
        "listens": listens,
        "events": _events(listens, event_rng),
        "tags": _crowd_tags(listens, truth, facets, vocabulary, tag_rng),
    }


def _catalogue(
    tracks: int, rng: np.random.Generator
) -> tuple[list[str], np.ndarray, np.ndarray, list[tuple[str, ...]], list[str]]:
    """Artists with a home genre and mood; each track mostly follows its artist's style."""
    n_artists = max(len(GENRES), tracks // 6)
    names = [f"The {a} {n}" for a, n in itertools.product(_ADJECTIVES, _NOUNS)]
    order = rng.permutation(len(names))
    artist_names = [
        names[order[i % len(names)]] + (f" {i // len(names) + 1}" if i >= len(names) else "")
        for i in range(n_artists)
    ]
    artist_genre = rng.permutation(np.arange(n_artists) % len(GENRES))
    artist_mood = rng.integers(len(MOODS), size=n_artists)
    track_artist = rng.permutation(
        np.concatenate(
            [
                np.arange(min(n_artists, tracks)),
                rng.integers(n_artists, size=max(0, tracks - n_artists)),
            ]
        )
    )
    genre = artist_genre[track_artist]
    mood = np.where(
        rng.random(tracks) < 0.6, artist_mood[track_artist], rng.integers(len(MOODS), size=tracks)
    )
    instruments: list[tuple[str, ...]] = []
    for g in genre:
        typical = GENRE_STYLES[GENRES[g]].instruments
        pool = typical if rng.random() < 0.8 else INSTRUMENTS
        count = min(len(pool), 1 + int(rng.random() < 0.5))
        instruments.append(tuple(str(i) for i in rng.choice(pool, size=count, replace=False)))
    words = rng.integers(len(_TITLE_WORDS), size=(tracks, 2))
    titles = [
        f"{_TITLE_WORDS[a]} {_TITLE_WORDS[b]}" if a != b else _TITLE_WORDS[a] for a, b in words
    ]
    return [artist_names[a] for a in track_artist], genre, mood, instruments, titles


def _facet_columns(facets: tuple[Facet, ...]) -> list[slice]:
    """Each facet's columns among the informative tags."""
    ends = np.cumsum([len(f.values) for f in facets])
    return [slice(int(end) - len(f.values), int(end)) for f, end in zip(facets, ends, strict=True)]


def _track_matrix(
    facets: tuple[Facet, ...], labels: list[dict[str, tuple[str, ...]]]
) -> np.ndarray:
    """(T, L) true-tag indicator."""
    truth = np.zeros((len(labels), sum(len(f.values) for f in facets)))
    for facet, columns in zip(facets, _facet_columns(facets), strict=True):
        for j, track in enumerate(labels):
            truth[j, [columns.start + facet.values.index(v) for v in track[facet.name]]] = 1
    return truth


def _listens(
    taste: np.ndarray,
    truth: np.ndarray,
    cold: np.ndarray,
    facets: tuple[Facet, ...],
    rng: np.random.Generator,
) -> np.ndarray:
    """Who played what, how often: taste-driven choices, popular tracks favoured, long tails."""
    users, tracks = taste.shape[0], truth.shape[0]
    affinity = np.zeros((users, tracks))
    for facet, columns in zip(facets, _facet_columns(facets), strict=True):
        values = truth[:, columns]  # a track's values in a facet share its pull
        share = values / np.maximum(values.sum(1, keepdims=True), 1)
        affinity += facet.weight * taste[:, columns] @ share.T
    warm = np.flatnonzero(~cold)
    popularity = np.zeros(tracks)
    popularity[warm[rng.permutation(warm.size)]] = -0.6 * np.log(np.arange(1, warm.size + 1))
    keys = affinity + popularity + rng.gumbel(size=(users, tracks))  # Gumbel top-k = sampling
    keys[:, cold] = -np.inf
    per_user = np.clip(rng.lognormal(np.log(12.0), 0.9, size=users), 3, min(warm.size, 200))
    order = np.argsort(-keys, axis=1, kind="stable")
    chosen = np.arange(tracks)[None, :] < per_user.astype(int)[:, None]
    played = np.zeros((users, tracks), dtype=bool)
    np.put_along_axis(played, order, chosen, axis=1)
    unheard = warm[~played[:, warm].any(axis=0)]  # every warm track gets at least one listener
    played[np.argmax(keys[:, unheard], axis=0), unheard] = True
    user, track = np.nonzero(played)
    z = (affinity[user, track] - affinity.mean()) / (affinity.std() + 1e-9)
    hits = 0.4 * popularity[track]  # popular tracks are also replayed more
    counts = 1 + np.floor(rng.lognormal(0.9 + 0.6 * z + hits, 1.0)).astype(np.int64)
    return np.column_stack([user, track, np.minimum(counts, 2000)]).astype(np.int64)


def _events(listens: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One timestamped event per play over a year, unique per (user, track, second)."""
    user = np.repeat(listens[:, 0], listens[:, 2])
    track = np.repeat(listens[:, 1], listens[:, 2])
    pair = np.repeat(np.arange(len(listens)), listens[:, 2])
    when = YEAR_START + rng.integers(0, YEAR_SECONDS - 10_000, size=user.size)
    order = np.lexsort((when, pair))
    user, track, pair, when = user[order], track[order], pair[order], when[order]
    first = np.searchsorted(pair, pair)  # index of each pair's first event
    when = when + (np.arange(pair.size) - first)  # sorted + rank: strictly increasing per pair
    order = np.lexsort((track, user, when))
    return np.column_stack([user[order], track[order], when[order]]).astype(np.int64)


def _spell(tag: str, style: int) -> str:
    """How a user happened to type a tag; the ETL normaliser must undo it."""
    return [tag, tag.title(), tag.upper(), f" {tag} ", tag.replace(" ", "  "), tag.capitalize()][
        style
    ]


def _crowd_tags(
    listens: np.ndarray,
    truth: np.ndarray,
    facets: tuple[Facet, ...],
    vocabulary: tuple[str, ...],
    rng: np.random.Generator,
) -> list[tuple[int, int, str]]:
    """Users tag some tracks they played: mostly true tags, a wrong one now and then,
    and the uninformative tags at random, whatever the track."""
    users = int(listens[:, 0].max()) + 1
    user, track = listens[:, 0], listens[:, 1]
    truth = truth[track].astype(bool)
    eagerness = rng.beta(0.7, 2.0, size=users)  # most users tag little, a few tag a lot
    tagging = rng.random(user.size) < eagerness[user]
    recall = np.concatenate([np.full(len(f.values), f.recall) for f in facets])
    applied = tagging[:, None] & truth & (rng.random(truth.shape) < recall)
    wrong = rng.integers(truth.shape[1], size=user.size)
    slip = tagging & (rng.random(user.size) < 0.1) & ~truth[np.arange(user.size), wrong]
    applied[np.flatnonzero(slip), wrong[slip]] = True
    junk_rate = rng.beta(2.0, 4.0, size=(users, len(UNINFORMATIVE)))
    junk_rate *= rng.random((users, len(UNINFORMATIVE))) < 0.9  # a few never use each one
    junk = rng.random((user.size, len(UNINFORMATIVE))) < junk_rate[user]
    rows, cols = np.nonzero(np.concatenate([applied, junk], axis=1))
    styles = np.where(rng.random(rows.size) < 0.3, rng.integers(1, 6, size=rows.size), 0)
    return [
        (int(user[r]), int(track[r]), _spell(vocabulary[c], int(s)))
        for r, c, s in zip(rows, cols, styles, strict=True)
    ]
