"""`recsys etl demo --audio-dir`: the demo world built around real recordings and a labels file."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from etl.demo import generate_demo
from etl.demo_labels import ARTIST_RUN, read_labelled_audio
from etl.demo_world import COLD_SHARE, UNINFORMATIVE, build_world_from_labels
from recommender.errors import DataFileError
from recommender.tags.normalize import normalize_tag
from tests.conftest import run_cli, shared_data

SR = 22050
GENRES = {"rock": 10, "jazz": 5, "classical": 5}  # 20 files: 2 + 1 + 1 cold


def _write_clip(path: Path, genre: str, number: int) -> None:
    import soundfile as sf

    t = np.arange(int(0.5 * SR)) / SR
    rng = np.random.default_rng(number)
    if genre == "rock":  # noisy bursts
        y = rng.normal(0, 0.3, t.size) * (np.sin(2 * np.pi * 4 * t) > 0)
    elif genre == "jazz":  # a low chord
        y = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (110.0, 138.6, 164.8))
    else:  # a high, pure tone
        y = 0.3 * np.sin(2 * np.pi * (880.0 + 10 * number) * t)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(y, dtype=np.float32), SR, subtype="PCM_16")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
    """20 short WAVs in genre folders (GTZAN's layout) and their labels.csv."""
    root = tmp_path_factory.mktemp("clips")
    lines = ["path,genre"]
    for genre, count in GENRES.items():
        for number in range(count):
            relative = f"{genre}/{genre}.{number:05d}.wav"
            _write_clip(root / relative, genre, number)
            lines.append(f"{relative},{genre.title()}")  # labels are normalised like tags
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def demo(audio_dir: Path, tmp_path_factory):
    out = tmp_path_factory.mktemp("home") / "demo"
    files = generate_demo(out, users=40, seed=0, audio_dir=audio_dir)
    return files, json.loads(files.truth.read_text())


def _digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


# --- the world ---------------------------------------------------------------------------


def test_one_track_per_file_pointing_at_the_recording_nothing_copied(demo, audio_dir) -> None:
    files, truth = demo
    assert sorted(p.name for p in files.directory.iterdir()) == [
        "catalogue.csv",
        "listens.csv",
        "tags.csv",
        "truth.json",
    ]
    catalogue = _rows(files.catalogue)
    expected = sorted(
        f"{genre}/{genre}.{n:05d}.wav" for genre, count in GENRES.items() for n in range(count)
    )
    assert len(catalogue) == truth["counts"]["tracks"] == 20
    assert [row["track"] for row in catalogue] == [f"track-{i:04d}" for i in range(1, 21)]
    assert [row["audio_path"] for row in catalogue] == [str(audio_dir / p) for p in expected]
    assert [row["title"] for row in catalogue] == [Path(p).stem for p in expected]
    assert truth["vocabulary"]["facets"] == {"genre": ["classical", "jazz", "rock"]}
    for row in catalogue:
        info = truth["tracks"][row["track"]]
        assert info["tags"] == [info["path"].split("/")[0]]  # the file's (normalised) label
    # no artist column: runs of ARTIST_RUN neighbouring files of one genre
    artists = Counter(row["artist"] for row in catalogue)
    assert (
        artists
        == {"classical artist 1": 5, "jazz artist 1": 5, "rock artist 1": 5, "rock artist 2": 5}
        and ARTIST_RUN == 5
    )


def test_cold_tracks_are_a_run_of_neighbours_per_genre_with_no_plays_and_no_tags(demo) -> None:
    files, truth = demo
    cold = [t for t, info in truth["tracks"].items() if info["cold"]]
    per_genre = Counter(truth["tracks"][t]["tags"][0] for t in cold)
    assert per_genre == {g: round(COLD_SHARE * n) for g, n in GENRES.items()}
    assert len(cold) == truth["counts"]["cold_tracks"] == 4  # 20%
    rock = sorted(int(t.split("-")[1]) for t in cold if truth["tracks"][t]["tags"] == ["rock"])
    assert rock[1] == rock[0] + 1  # neighbours, not scattered
    listened = {row["track"] for row in _rows(files.listens)}
    tagged = {row["track"] for row in _rows(files.tags)}
    assert not set(cold) & listened and not set(cold) & tagged
    assert listened == set(truth["tracks"]) - set(cold)  # every warm track has a listener


def test_crowd_tags_come_from_the_labels_and_the_noise_vocabulary_only(demo) -> None:
    files, truth = demo
    tags = _rows(files.tags)
    names = Counter(normalize_tag(row["tag"]) for row in tags)
    assert set(names) == {"rock", "jazz", "classical", *UNINFORMATIVE}
    assert any(row["tag"] != normalize_tag(row["tag"]) for row in tags)  # "ROCK", " jazz "
    informative = [
        (normalize_tag(row["tag"]), truth["tracks"][row["track"]]["tags"])
        for row in tags
        if normalize_tag(row["tag"]) not in UNINFORMATIVE
    ]
    true = sum(tag in labels for tag, labels in informative)
    assert true < len(informative)  # a wrong label now and then
    assert true / len(informative) > 0.8  # mostly the true label
    assert set(truth["users"]["user-0001"]["taste"]) == {"rock", "jazz", "classical"}


def test_same_seed_same_files_other_seed_other_world(audio_dir, tmp_path) -> None:
    first = generate_demo(tmp_path / "a", users=40, seed=3, audio_dir=audio_dir)
    second = generate_demo(tmp_path / "b", users=40, seed=3, audio_dir=audio_dir)
    third = generate_demo(tmp_path / "c", users=40, seed=4, audio_dir=audio_dir)
    assert _digests(first.directory) == _digests(second.directory)
    other = _digests(third.directory)
    assert other["listens.csv"] != _digests(first.directory)["listens.csv"]
    assert other["catalogue.csv"] == _digests(first.directory)["catalogue.csv"]


def test_several_label_columns_a_tags_column_and_an_artist_column(tmp_path) -> None:
    lines = ["path,artist,genre,tags"]
    for i in range(12):
        genre = ("rock", "jazz")[i % 2]
        _write_clip(tmp_path / f"{i:02d}.wav", genre, i)
        extra = "guitar;loud" if genre == "rock" else "piano"
        lines.append(f"{i:02d}.wav,Band {i % 3},{genre},{extra}")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    audio = read_labelled_audio(tmp_path)
    assert audio.columns == {"genre": ("jazz", "rock"), "tags": ("guitar", "loud", "piano")}
    assert audio.artist_source == "column" and audio.artists[:3] == ["Band 0", "Band 1", "Band 2"]
    world = build_world_from_labels(audio, users=30, seed=0)
    assert world.true_tags(0) == ["rock", "guitar", "loud"] and world.true_tags(1) == [
        "jazz",
        "piano",
    ]
    assert world.truth.shape == (12, 5) and world.truth.sum() == 6 * 3 + 6 * 2
    assert world.cold.sum() == 2  # round(0.2 * 6) per genre
    spelt = {normalize_tag(tag) for _, _, tag in world.tags}
    assert spelt <= {"rock", "jazz", "guitar", "loud", "piano", *UNINFORMATIVE}


# --- the labels file contract ----------------------------------------------------------------


def _labelled(tmp_path: Path, text: str | bytes, files: int = 3) -> Path:
    for i in range(files):
        _write_clip(tmp_path / f"{i}.wav", "jazz", i)
    data = text if isinstance(text, bytes) else text.encode()
    (tmp_path / "labels.csv").write_bytes(data)
    return tmp_path


GOOD = "path,genre\n0.wav,rock\n1.wav,jazz\n2.wav,jazz\n"


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("", ":1:", "empty"),
        ("file,genre\n0.wav,rock\n", ":1:", "no 'path' column"),
        ("path,title\n0.wav,x\n", ":1:", "no label column"),
        ("path,genre,Genre\n0.wav,a,b\n", ":1:", "appears twice"),
        (GOOD.replace("1.wav,jazz", "1.wav,jazz,extra"), ":3:", "3 fields, expected 2"),
        (GOOD.replace("2.wav", "9.wav"), ":4:", "'9.wav' not found"),
        (GOOD.replace("2.wav", "1.wav"), ":4:", "listed twice (also line 3)"),
        (GOOD.replace("1.wav,jazz", "1.wav, "), ":3:", "has no label"),
        (GOOD.replace("1.wav,jazz", "1.wav,Seen Live"), ":3:", "noise tags"),
        (
            "path,genre,tags\n0.wav,rock,\n1.wav,jazz,rock\n2.wav,jazz,\n",
            ":3:",
            "columns 'genre' and 'tags'",
        ),
        (GOOD.encode() + b"1.wav,caf\xe9\n", ":5:", "not UTF-8"),
        (GOOD.replace("2.wav,jazz\n", ""), ": 1 audio file(s)", "'2.wav'"),
    ],
)
def test_a_malformed_labels_file_is_one_line_naming_file_and_line(tmp_path, text, where, says):
    directory = _labelled(tmp_path, text)
    with pytest.raises(DataFileError) as error:
        read_labelled_audio(directory)
    message = str(error.value)
    assert message.startswith(f"{directory / 'labels.csv'}{where}"), message
    assert says in message and "\n" not in message


def test_a_missing_labels_file_or_folder_says_what_is_needed(tmp_path) -> None:
    with pytest.raises(
        DataFileError, match=r"labels\.csv: no labels file; .* path and one or more"
    ):
        read_labelled_audio(tmp_path)
    with pytest.raises(DataFileError, match="no such folder"):
        read_labelled_audio(tmp_path / "absent")
    with pytest.raises(DataFileError, match="3 labelled files; at least 10 needed"):
        generate_demo(tmp_path / "out", audio_dir=_labelled(tmp_path, GOOD))
    assert not (tmp_path / "out").exists()


# --- through the CLI ------------------------------------------------------------------------


def test_cli_loads_the_world_and_extracts_features_of_the_real_files(
    recsys_env: dict[str, str], audio_dir: Path
) -> None:
    done = run_cli(
        ["etl", "demo", "--audio-dir", str(audio_dir), "--users", "40", "--workers", "1", "--json"],
        recsys_env,
    )
    assert done.returncode == 0, done.stderr
    stats = run_cli(["db", "stats", "--json"], recsys_env)
    counts = json.loads(stats.stdout)["counts"]
    truth = json.loads((Path(recsys_env["RECSYS_HOME"]) / "demo" / "truth.json").read_text())
    assert counts["tracks"] == counts["tracks_with_audio"] == 20
    assert counts["tracks_without_listens"] == truth["counts"]["cold_tracks"] == 4
    assert counts["tags"] == 3 + len(UNINFORMATIVE)
    assert counts["track_features"] > 0 and counts["rejects"] == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--tracks", "50"], "--tracks does not apply with --audio-dir"),
        (["--clip-seconds", "2"], "--clip-seconds does not apply with --audio-dir"),
    ],
)
def test_cli_refuses_synthetic_options_with_an_audio_dir(recsys_env, audio_dir, args, says):
    done = run_cli(["etl", "demo", "--audio-dir", str(audio_dir), *args], recsys_env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and says in done.stderr


def test_cli_names_a_malformed_labels_file_in_one_line(recsys_env, tmp_path) -> None:
    directory = _labelled(tmp_path / "clips", GOOD.replace("1.wav,jazz", "1.wav,jazz,x"))
    done = run_cli(["etl", "demo", "--audio-dir", str(directory)], recsys_env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{directory / 'labels.csv'}:3:" in lines[0], done.stderr


# --- the real thing ---------------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.slow
def test_gtzan_mini_taggers_rank_never_played_real_tracks_better_than_random(
    tmp_path: Path, sqlite_url: str
) -> None:
    """End to end on real audio, on SQLite only: both databases load the same world in
    the tests above, and this is the suite's slowest test."""
    recsys_env = dict(
        os.environ, RECSYS_HOME=str(tmp_path / "home"), RECSYS_DATABASE_URL=sqlite_url
    )
    recsys_env.pop("RECSYS_DEBUG", None)
    gtzan = shared_data("gtzan-mini")
    done = run_cli(["etl", "demo", "--audio-dir", str(gtzan), "--workers", "2"], recsys_env)
    assert done.returncode == 0, done.stderr
    done = run_cli(
        [
            "evaluate",
            "--split",
            "cold-items",
            "--models",
            "content",
            "--taggers",
            "linear,mlp,lightgbm",
            "--json",
        ],
        recsys_env,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    ndcg = {m["name"]: m["metrics"]["ndcg@10"] for m in result["models"]}
    assert result["taggers"] == ["linear", "mlp", "lightgbm"]
    assert set(ndcg) == {
        "random",
        "pop",
        *(
            f"{model} ({kind})"
            for model in ("tag-pop", "tag-cosine", "content")
            for kind in ("linear", "mlp", "lightgbm")
        ),
    }
    for kind in ("linear", "mlp", "lightgbm"):
        assert ndcg[f"content ({kind})"] > ndcg["random"] + 0.05, (kind, ndcg)
