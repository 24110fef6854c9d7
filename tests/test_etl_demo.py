"""The synthetic demo catalogue: deterministic, shaped like real listening data,
tags audible in the audio, and loadable end to end through `recsys etl demo`."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from etl.demo import DemoFiles, generate_demo
from etl.demo_audio import plan_clip, render_clip
from etl.demo_world import (
    GENRES,
    INFORMATIVE,
    UNINFORMATIVE,
    VOCABULARY,
    YEAR_SECONDS,
    YEAR_START,
    build_world,
)
from etl.normalize import normalize_tag
from recommender.errors import InputError
from tests.conftest import run_cli

SR = 22050
SMALL = {"users": 25, "tracks": 30, "clip_seconds": 2.0}


def _digests(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def world():
    return build_world(users=200, tracks=300, seed=0)


# --- determinism and files ---------------------------------------------------------------


def test_same_seed_gives_byte_identical_files_whatever_the_workers(tmp_path: Path) -> None:
    first = generate_demo(tmp_path / "a", seed=7, **SMALL)
    second = generate_demo(tmp_path / "b", seed=7, workers=2, **SMALL)
    digests = _digests(first.directory)
    assert len(digests) == 4 + SMALL["tracks"]  # 3 CSVs, truth.json, one WAV per track
    assert digests == _digests(second.directory)


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    first = _digests(generate_demo(tmp_path / "a", seed=1, **SMALL).directory)
    second = _digests(generate_demo(tmp_path / "b", seed=2, **SMALL).directory)
    assert first.keys() == second.keys()
    assert all(first[name] != second[name] for name in first)


def test_regenerating_replaces_the_folder_and_leaves_no_temporary_folders(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    generate_demo(out, seed=0, users=20, tracks=40, clip_seconds=1.0)
    (out / "stale.txt").write_text("left from an older run")
    files = generate_demo(out, seed=0, users=20, tracks=20, clip_seconds=1.0)
    assert not (out / "stale.txt").exists()
    assert len(list(files.audio_dir.glob("*.wav"))) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_files_agree_with_the_truth(tmp_path: Path) -> None:
    import soundfile as sf

    files = generate_demo(tmp_path / "demo", seed=3, **SMALL)
    assert files == DemoFiles.at(tmp_path / "demo")
    truth = json.loads(files.truth.read_text())
    catalogue = _rows(files.catalogue)
    assert list(catalogue[0]) == ["track", "title", "artist", "audio_path"]
    assert [r["track"] for r in catalogue] == [f"track-{i:04d}" for i in range(1, 31)]
    for row in catalogue:
        assert row["title"] and row["artist"].startswith("The ")
        assert (
            row["audio_path"]
            == f"audio/{row['track']}.wav"
            == truth["tracks"][row["track"]]["audio_path"]
        )
        info = sf.info(str(files.directory / row["audio_path"]))
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (
            SR,
            1,
            "PCM_16",
            2 * SR,
        )

    events = _rows(files.listens)
    assert list(events[0]) == ["user", "track", "timestamp"]
    pairs = Counter((r["user"], r["track"]) for r in events)
    assert len(pairs) == truth["counts"]["listens"]
    assert len(events) == truth["counts"]["plays"] == truth["counts"]["listen_events"]
    assert len({(r["user"], r["track"], r["timestamp"]) for r in events}) == len(events)
    assert all(YEAR_START <= int(r["timestamp"]) < YEAR_START + YEAR_SECONDS for r in events)
    assert {u for u, _ in pairs} == set(truth["users"])  # every user listened to something

    tags = _rows(files.tags)
    assert len(tags) == truth["counts"]["tag_rows"]
    normalised = {(r["user"], r["track"], normalize_tag(r["tag"])) for r in tags}
    assert len(normalised) == truth["counts"]["tag_assignments"]
    assert len({t for _, _, t in normalised}) == truth["counts"]["tags"]
    assert {t for _, _, t in normalised} <= set(VOCABULARY)

    cold = {t for t, info in truth["tracks"].items() if info["cold"]}
    assert len(cold) == truth["counts"]["cold_tracks"] == 6
    assert not cold & {t for _, t in pairs}
    assert not cold & {r["track"] for r in tags}
    assert set(truth["vocabulary"]["uninformative"]) == set(UNINFORMATIVE)
    for user in truth["users"].values():
        assert set(user["taste"]) == set(INFORMATIVE)
        assert sum(user["taste"][g] for g in GENRES) == pytest.approx(1.0, abs=1e-4)


def test_bad_sizes_are_input_errors() -> None:
    with pytest.raises(InputError, match="--users"):
        build_world(users=1, tracks=100, seed=0)
    with pytest.raises(InputError, match="--tracks"):
        build_world(users=10, tracks=3, seed=0)


# --- the shape of the simulated world ----------------------------------------------------


def test_a_fifth_of_tracks_are_cold_with_no_plays_and_no_tags(world) -> None:
    assert world.cold.sum() == 60
    listened = set(world.listens[:, 1].tolist())
    tagged = {t for _, t, _ in world.tags}
    cold = set(np.flatnonzero(world.cold).tolist())
    assert not cold & listened and not cold & tagged
    assert listened == set(range(300)) - cold  # every warm track has a listener


def test_artists_group_tracks_of_one_style(world) -> None:
    genres_of: dict[str, set[int]] = defaultdict(set)
    for artist, genre in zip(world.artists, world.genre.tolist(), strict=True):
        genres_of[artist].add(genre)
    assert 30 <= len(genres_of) <= 60
    assert all(len(genres) == 1 for genres in genres_of.values())
    assert all(1 <= len(i) <= 2 and len(set(i)) == len(i) for i in world.instruments)


def test_play_counts_and_activity_have_long_tails(world) -> None:
    counts = world.listens[:, 2]
    assert counts.min() >= 1
    assert counts.max() >= 10 * np.median(counts)
    per_user = np.bincount(world.listens[:, 0])
    assert per_user.min() >= 3 and per_user.max() >= 5 * np.median(per_user)
    per_track = np.bincount(world.listens[:, 1], weights=counts)[~world.cold]
    per_track = np.sort(per_track)[::-1]
    top_tenth = per_track[: len(per_track) // 10].sum() / per_track.sum()
    assert top_tenth > 0.3  # popular tracks draw a disproportionate share of plays
    assert len(world.events) == counts.sum()


def test_plays_follow_the_users_tastes(world) -> None:
    """What collaborative filtering must find: users mostly play their favourite genre."""
    favourite = np.argmax(world.taste[:, : len(GENRES)], axis=1)
    user, track, count = world.listens.T
    on_favourite = np.bincount(user, weights=count * (world.genre[track] == favourite[user]))
    share = on_favourite / np.bincount(user, weights=count)
    assert share.mean() > 0.5  # chance would be about 1/6


def test_collaborative_filtering_finds_the_tastes_popularity_does_not(world) -> None:
    """Held-out plays: implicit ALS must beat most-popular by a wide margin on this data."""
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import bm25_weight
    from threadpoolctl import threadpool_limits

    user, track, count = world.listens.T
    held_out = np.random.default_rng(0).random(user.size) < 0.2
    shape = (len(world.user_ids), len(world.track_ids))
    train = sp.csr_matrix(
        (count[~held_out].astype(np.float32), (user[~held_out], track[~held_out])), shape=shape
    )
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=8, regularization=0.1, iterations=20, random_state=0
        )
        model.fit(bm25_weight(train, K1=100, B=0.8).tocsr(), show_progress=False)
    ids, _ = model.recommend(np.arange(shape[0]), train, N=10, filter_already_liked_items=True)
    popular = np.argsort(-np.asarray((train > 0).sum(axis=0)).ravel(), kind="stable")
    als_hits = pop_hits = 0
    for u in np.unique(user[held_out]):
        wanted = set(track[held_out & (user == u)].tolist())
        seen = set(train[u].indices.tolist())
        als_hits += len(wanted & set(ids[u].tolist()))
        pop_hits += len(wanted & set([t for t in popular.tolist() if t not in seen][:10]))
    assert als_hits > 1.5 * pop_hits > 0


def test_crowd_tags_are_mostly_true_noisy_and_variously_spelt(world) -> None:
    spelt = [tag for _, _, tag in world.tags]
    assert any(tag != tag.strip() for tag in spelt)  # " jazz "
    assert any(tag != tag.lower() for tag in spelt)  # "Seen Live", "JAZZ"
    assert any("  " in tag.strip() for tag in spelt)  # "seen  live"
    true = wrong = 0
    for _, track, tag in world.tags:
        name = normalize_tag(tag)
        if name in INFORMATIVE:
            if name in world.true_tags(track):
                true += 1
            else:
                wrong += 1
    assert wrong > 0 and true / (true + wrong) > 0.85


def test_uninformative_tags_are_used_by_many_users_across_all_genres(world) -> None:
    users_of: dict[str, set[int]] = defaultdict(set)
    genres_of: dict[str, Counter] = defaultdict(Counter)
    for user, track, tag in world.tags:
        name = normalize_tag(tag)
        users_of[name].add(user)
        genres_of[name][GENRES[world.genre[track]]] += 1
    for name in UNINFORMATIVE:
        assert len(users_of[name]) > 0.6 * len(world.user_ids)  # "everybody" uses them
        assert len(users_of[name]) > max(len(users_of[tag]) for tag in INFORMATIVE)
        assert set(genres_of[name]) == set(GENRES)
        # the distribution over genres follows the plays, not the tag: no genre dominates
        assert max(genres_of[name].values()) / sum(genres_of[name].values()) < 0.4
    for genre in GENRES:  # while a genre tag lands on its own genre
        assert genres_of[genre][genre] / sum(genres_of[genre].values()) > 0.8


# --- the tags are audible -----------------------------------------------------------------


def _clips(*, seeds: range, seconds: float = 3.0, **tags) -> list[np.ndarray]:
    clips = []
    for seed in seeds:
        plan = plan_clip(rng=np.random.default_rng(seed), **tags)
        clips.append(render_clip(plan, seconds=seconds, sample_rate=SR))
    return clips


def test_clips_are_valid_and_reproducible() -> None:
    plan = plan_clip(
        genre="jazz", mood="happy", instruments=("piano", "drums"), rng=np.random.default_rng(0)
    )
    clip = render_clip(plan, seconds=2.5, sample_rate=SR)
    assert clip.dtype == np.float32 and clip.shape == (int(2.5 * SR),)
    assert np.all(np.isfinite(clip)) and np.abs(clip).max() <= 1.0
    assert np.sqrt(np.mean(clip**2)) > 0.02  # not silent
    assert np.array_equal(clip, render_clip(plan, seconds=2.5, sample_rate=SR))


def test_drums_add_percussive_onsets() -> None:
    import librosa

    for genre in ("rock", "electronic", "folk"):
        tags = {"genre": genre, "mood": "happy"}
        with_drums = _clips(seeds=range(3), instruments=("piano", "drums"), **tags)
        without = _clips(seeds=range(3), instruments=("piano",), **tags)

        def percussive_share(y: np.ndarray) -> float:
            harmonic, percussive = librosa.effects.hpss(y)
            return float(np.sum(percussive**2) / (np.sum(harmonic**2) + np.sum(percussive**2)))

        def onset_peakiness(y: np.ndarray) -> float:
            env = librosa.onset.onset_strength(y=y, sr=SR)
            return float(env.max() / (env.mean() + 1e-9))

        assert min(map(percussive_share, with_drums)) > max(map(percussive_share, without)), genre
        assert np.mean([onset_peakiness(y) for y in with_drums]) > np.mean(
            [onset_peakiness(y) for y in without]
        ), genre


def test_low_register_moods_sound_darker() -> None:
    import librosa

    def centroid(y: np.ndarray) -> float:
        """Of the clip's average power spectrum, so the faint noise floor cannot dominate."""
        spectrum = (np.abs(librosa.stft(y)) ** 2).mean(axis=1)
        return float(np.sum(librosa.fft_frequencies(sr=SR) * spectrum) / np.sum(spectrum))

    for instruments in (("strings",), ("piano",), ("synth",)):
        sad = [
            centroid(y)
            for y in _clips(seeds=range(3), genre="folk", mood="sad", instruments=instruments)
        ]
        happy = [
            centroid(y)
            for y in _clips(seeds=range(3), genre="folk", mood="happy", instruments=instruments)
        ]
        assert max(sad) < min(happy), instruments


def test_calm_is_quieter_than_energetic() -> None:
    def rms(y: np.ndarray) -> float:
        return float(np.sqrt(np.mean(y**2)))

    for genre in ("classical", "electronic"):
        calm = [
            rms(y)
            for y in _clips(seeds=range(3), genre=genre, mood="calm", instruments=("guitar",))
        ]
        energetic = [
            rms(y)
            for y in _clips(seeds=range(3), genre=genre, mood="energetic", instruments=("guitar",))
        ]
        assert max(calm) < 0.5 * min(energetic), genre


def test_declared_tempo_is_recovered_from_percussive_tracks() -> None:
    """beat_track may lock onto half or double time; it must find the pulse itself."""
    import librosa

    hits = total = 0
    for i, genre in enumerate(["rock", "electronic", "folk", "jazz"] * 3):
        mood = ("happy", "energetic", "calm", "sad")[i % 4]
        plan = plan_clip(
            genre=genre, mood=mood, instruments=("guitar", "drums"), rng=np.random.default_rng(i)
        )
        y = render_clip(plan, seconds=6.0, sample_rate=SR)
        tempo, _ = librosa.beat.beat_track(y=y, sr=SR)
        ratio = float(np.atleast_1d(tempo)[0]) / plan.tempo
        hits += any(abs(ratio / octave - 1.0) < 0.05 for octave in (0.5, 1.0, 2.0))
        total += 1
    assert hits >= 0.8 * total, f"tempo recovered on {hits}/{total} clips"


# --- end to end through the CLI ----------------------------------------------------------


def test_cli_demo_loads_counts_that_match_the_truth(
    recsys_env: dict[str, str], tmp_path: Path
) -> None:
    args = ["etl", "demo", "--users", "25", "--tracks", "30", "--seed", "5", "--clip-seconds", "2"]
    done = run_cli([*args, "--workers", "1", "--json"], recsys_env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows_rejected"] == 0

    demo = Path(recsys_env["RECSYS_HOME"]) / "demo"
    truth = json.loads((demo / "truth.json").read_text())["counts"]
    assert summary["rows_in"] == truth["plays"] + truth["tag_rows"] + truth["tracks"]

    def counts() -> dict[str, int]:
        stats = run_cli(["db", "stats", "--json"], recsys_env)
        assert stats.returncode == 0, stats.stderr
        return json.loads(stats.stdout)["counts"]

    loaded = counts()
    assert loaded["users"] == truth["users"] == 25
    assert loaded["tracks"] == loaded["tracks_with_audio"] == truth["tracks"] == 30
    assert loaded["tracks_without_listens"] == truth["cold_tracks"] == 6
    assert loaded["listens"] == truth["listens"]
    assert loaded["plays"] == truth["plays"]
    assert loaded["tags"] == truth["tags"]
    assert loaded["tag_assignments"] == truth["tag_assignments"]
    assert loaded["rejects"] == 0

    again = run_cli([*args, "--json"], recsys_env)  # same seed: nothing new to load
    assert again.returncode == 0, again.stderr
    assert counts() == loaded


def test_cli_demo_reports_an_unwritable_home_in_one_line(
    recsys_env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where RECSYS_HOME should be")
    env = recsys_env | {"RECSYS_HOME": str(blocker)}
    done = run_cli(["etl", "demo", "--users", "5", "--tracks", "10", "--clip-seconds", "1"], env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(blocker) in lines[0] and "Traceback" not in done.stderr
