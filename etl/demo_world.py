"""The demo's simulated world: a tag vocabulary, a catalogue, listeners with tastes,
play events and noisy crowd tags.

Designed so every later feature has something real to find: users' plays follow
their (Dirichlet) tastes over genres, moods and instruments, so collaborative
filtering can recover them; ~20% of tracks are cold (audio, no plays, no tags),
for cold-start; crowd tags are noisy and include tags everybody applies at
random ("favorites", "seen live", "awesome") that carry no information. Each
stochastic part draws from its own child of one SeedSequence, so changing how
one part is drawn never reshuffles the others.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from etl.demo_audio import ClipPlan, plan_clip
from etl.demo_styles import GENRE_STYLES, INSTRUMENTS, MOOD_STYLES
from recommender.errors import InputError

GENRES: tuple[str, ...] = tuple(GENRE_STYLES)
MOODS: tuple[str, ...] = tuple(MOOD_STYLES)
UNINFORMATIVE: tuple[str, ...] = ("favorites", "seen live", "awesome")
INFORMATIVE: tuple[str, ...] = (*GENRES, *MOODS, *INSTRUMENTS)
VOCABULARY: tuple[str, ...] = (*INFORMATIVE, *UNINFORMATIVE)

COLD_SHARE = 0.2
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
class DemoWorld:
    """Arrays indexed by user (U) and track (T) position; ids are `user-0001`, `track-0001`."""

    user_ids: list[str]
    track_ids: list[str]
    titles: list[str]
    artists: list[str]  # per track
    genre: np.ndarray  # (T,) index into GENRES
    mood: np.ndarray  # (T,) index into MOODS
    instruments: list[tuple[str, ...]]  # per track, 1-2 of INSTRUMENTS
    cold: np.ndarray  # (T,) bool: audio but no plays and no tags
    taste: np.ndarray  # (U, len(INFORMATIVE)): a distribution per facet (sums to 1 each)
    listens: np.ndarray  # (P, 3) int64: user, track, play count
    events: np.ndarray  # (E, 3) int64: user, track, Unix seconds; sorted by time
    tags: list[tuple[int, int, str]]  # (user, track, tag as typed by the user)
    plans: list[ClipPlan]  # per track: how its audio is rendered

    def true_tags(self, track: int) -> list[str]:
        return [GENRES[self.genre[track]], MOODS[self.mood[track]], *self.instruments[track]]


def build_world(*, users: int, tracks: int, seed: int) -> DemoWorld:
    """Simulate the whole world; same arguments give the same world, bit for bit."""
    if users < 2:
        raise InputError(f"--users must be at least 2, got {users}")
    if tracks < 10:
        raise InputError(f"--tracks must be at least 10, got {tracks}")
    catalogue_rng, taste_rng, play_rng, event_rng, tag_rng, audio_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)
    )
    artists, genre, mood, instruments, titles = _catalogue(tracks, catalogue_rng)
    cold = np.zeros(tracks, dtype=bool)
    cold[catalogue_rng.choice(tracks, size=round(COLD_SHARE * tracks), replace=False)] = True
    taste = np.concatenate(
        [
            taste_rng.dirichlet(np.full(len(GENRES), 0.4), size=users),
            taste_rng.dirichlet(np.full(len(MOODS), 0.6), size=users),
            taste_rng.dirichlet(np.full(len(INSTRUMENTS), 0.6), size=users),
        ],
        axis=1,
    )
    truth = _track_matrix(genre, mood, instruments)
    listens = _listens(taste, truth, cold, play_rng)
    return DemoWorld(
        user_ids=[f"user-{i + 1:04d}" for i in range(users)],
        track_ids=[f"track-{j + 1:04d}" for j in range(tracks)],
        titles=titles,
        artists=artists,
        genre=genre,
        mood=mood,
        instruments=instruments,
        cold=cold,
        taste=taste,
        listens=listens,
        events=_events(listens, event_rng),
        tags=_crowd_tags(listens, truth, tag_rng),
        plans=[
            plan_clip(genre=GENRES[g], mood=MOODS[m], instruments=ins, rng=audio_rng)
            for g, m, ins in zip(genre, mood, instruments, strict=True)
        ],
    )


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


def _track_matrix(
    genre: np.ndarray, mood: np.ndarray, instruments: list[tuple[str, ...]]
) -> np.ndarray:
    """(T, len(INFORMATIVE)) true-tag indicator."""
    truth = np.zeros((genre.size, len(INFORMATIVE)))
    truth[np.arange(genre.size), genre] = 1
    truth[np.arange(genre.size), len(GENRES) + mood] = 1
    for j, names in enumerate(instruments):
        truth[j, [INFORMATIVE.index(n) for n in names]] = 1
    return truth


def _listens(
    taste: np.ndarray, truth: np.ndarray, cold: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Who played what, how often: taste-driven choices, popular tracks favoured, long tails."""
    users, tracks = taste.shape[0], truth.shape[0]
    n_genre, n_mood = len(GENRES), len(MOODS)
    inst = truth[:, n_genre + n_mood :]
    affinity = (
        8.0 * taste[:, :n_genre] @ truth[:, :n_genre].T
        + 3.0 * taste[:, n_genre : n_genre + n_mood] @ truth[:, n_genre : n_genre + n_mood].T
        + 2.0 * taste[:, n_genre + n_mood :] @ (inst / inst.sum(1, keepdims=True)).T
    )
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
    listens: np.ndarray, truth: np.ndarray, rng: np.random.Generator
) -> list[tuple[int, int, str]]:
    """Users tag some tracks they played: mostly true tags, a wrong one now and then,
    and the uninformative tags at random, whatever the track."""
    users = int(listens[:, 0].max()) + 1
    user, track = listens[:, 0], listens[:, 1]
    truth = truth[track].astype(bool)
    eagerness = rng.beta(0.7, 2.0, size=users)  # most users tag little, a few tag a lot
    tagging = rng.random(user.size) < eagerness[user]
    n_genre, n_mood = len(GENRES), len(MOODS)
    recall = np.r_[np.full(n_genre, 0.8), np.full(n_mood, 0.5), np.full(len(INSTRUMENTS), 0.5)]
    applied = tagging[:, None] & truth & (rng.random(truth.shape) < recall)
    wrong = rng.integers(len(INFORMATIVE), size=user.size)
    slip = tagging & (rng.random(user.size) < 0.1) & ~truth[np.arange(user.size), wrong]
    applied[np.flatnonzero(slip), wrong[slip]] = True
    junk_rate = rng.beta(2.0, 4.0, size=(users, len(UNINFORMATIVE)))
    junk_rate *= rng.random((users, len(UNINFORMATIVE))) < 0.9  # a few never use each one
    junk = rng.random((user.size, len(UNINFORMATIVE))) < junk_rate[user]
    rows, cols = np.nonzero(np.concatenate([applied, junk], axis=1))
    styles = np.where(rng.random(rows.size) < 0.3, rng.integers(1, 6, size=rows.size), 0)
    return [
        (int(user[r]), int(track[r]), _spell(VOCABULARY[c], int(s)))
        for r, c, s in zip(rows, cols, styles, strict=True)
    ]
