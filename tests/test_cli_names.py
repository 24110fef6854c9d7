"""Names where a user meets them: `recsys similar / audience / recommend / user-tags / search`
as processes, on a small trained catalogue with known names (CSV files, SQLite).

Four taste groups of ten users each play their group's five tracks; the names hold an
ambiguous title ("Dream Fire" twice), accents (Björk), an artist whose item is named
after itself (Billy Ray Cyrus) and a track without any name (t20, cold: tagged, unplayed).
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli

TRACKS = {  # id: (title, artist, group tag)
    "t01": ("Toxic", "Britney Spears", "pop"),
    "t02": ("Oops", "Britney Spears", "pop"),
    "t03": ("Lucky", "Britney Spears", "pop"),
    "t04": ("Umbrella", "Rihanna", "pop"),
    "t05": ("Halo", "Beyoncé", "pop"),
    "t06": ("Dream Fire", "Cocteau Twins", "dream pop"),
    "t07": ("Dream Fire", "The Dreamers", "dream pop"),
    "t08": ("Heaven", "Slowdive", "dream pop"),
    "t09": ("Alison", "Slowdive", "dream pop"),
    "t10": ("Space Song", "Beach House", "dream pop"),
    "t11": ("Jóga", "Björk", "electronic"),
    "t12": ("Hyperballad", "Björk", "electronic"),
    "t13": ("Svefn-g-englar", "Sigur Rós", "electronic"),
    "t14": ("Teardrop", "Massive Attack", "electronic"),
    "t15": ("Windowlicker", "Aphex Twin", "electronic"),
    "t16": ("Billy Ray Cyrus", "Billy Ray Cyrus", "country"),
    "t17": ("Jolene", "Dolly Parton", "country"),
    "t18": ("Ring of Fire", "Johnny Cash", "country"),
    "t19": ("Hurt", "Johnny Cash", "country"),
    "t20": ("", "", "country"),  # no name, never played
}
GROUPS = ["pop", "dream pop", "electronic", "country"]


def write_world(folder: Path) -> dict[str, Path]:
    """listens (40 users, 4 tracks of their group each), tags, catalogue."""
    paths = {name: folder / f"{name}.csv" for name in ("listens", "tags", "catalogue")}
    with paths["catalogue"].open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["track", "title", "artist"])
        out.writerows([track, title, artist] for track, (title, artist, _) in TRACKS.items())
    by_group = {g: [t for t, v in TRACKS.items() if v[2] == g and t != "t20"] for g in GROUPS}
    with paths["listens"].open("w", newline="") as f, paths["tags"].open("w", newline="") as g:
        listens, tags = csv.writer(f), csv.writer(g)
        listens.writerow(["user", "track", "count"])
        tags.writerow(["user", "track", "tag"])
        for u in range(40):
            user, group = f"u{u:02d}", GROUPS[u % 4]
            mine = by_group[group]
            for k in range(4):
                track = mine[(u // 4 + k) % len(mine)]
                listens.writerow([user, track, 10 + 5 * k + u % 3])
                tags.writerow([user, track, group])
        tags.writerow(["u03", "t20", "country"])  # the unplayed, nameless track: tagged
    return paths


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("names")
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
    env.update(
        RECSYS_HOME=str(home),
        RECSYS_DATABASE_URL=f"sqlite:///{home / 'recsys.db'}",
        COLUMNS="200",  # rich wraps nothing: one table row per line
    )
    paths = write_world(root)
    loaded = run_cli(
        ["-q", "etl", "csv", "--listens", str(paths["listens"]), "--tags", str(paths["tags"]),
         "--catalogue", str(paths["catalogue"])],
        env,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    trained = run_cli(["-q", "train", "--no-validate"], env)
    assert trained.returncode == 0, trained.stderr
    return {"env": env}


def cli(world: dict, *args: str):
    return run_cli(list(args), world["env"])


def cli_json(world: dict, *args: str):
    result = cli(world, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_similar_and_audience_take_a_name_and_title_the_table_with_it(world):
    by_id = cli_json(world, "similar", "--track", "t11", "-n", "3")
    assert cli_json(world, "similar", "--track", "Hyperballad", "-n", "3") != by_id  # t12
    for name in ("Jóga", "joga", "BJORK - JOGA", "Björk - Jóga"):
        assert cli_json(world, "similar", "--track", name, "-n", "3") == by_id, name
    assert {r["item_id"] for r in by_id} <= {"t12", "t13", "t14", "t15"}  # its group

    table = cli(world, "similar", "--track", "bjork - joga", "-n", "2")
    assert table.returncode == 0, table.stderr
    assert "tracks similar to Björk - Jóga (t11)" in table.stdout

    audience = cli_json(world, "audience", "--track", "Billy Ray Cyrus", "-n", "3")
    assert audience == cli_json(world, "audience", "--track", "t16", "-n", "3")
    table = cli(world, "audience", "--track", "billy ray cyrus", "-n", "3")
    assert "audience for Billy Ray Cyrus (t16)" in table.stdout


def test_an_ambiguous_name_lists_its_ids_and_exits_2(world):
    for command in ("similar", "audience"):
        result = cli(world, command, "--track", "dream fire")
        assert result.returncode == 2 and result.stdout == ""
        lines = result.stderr.splitlines()
        assert lines[0] == "error: 'dream fire' names 2 tracks; give one of these ids instead"
        assert [line.split()[0] for line in lines[1:]] == ["t06", "t07"]
        assert "Cocteau Twins - Dream Fire" in lines[1] and "The Dreamers - Dream Fire" in lines[2]
        assert "Traceback" not in result.stderr
    artist = cli(world, "similar", "--track", "Johnny Cash")  # an artist of two tracks
    assert artist.returncode == 2
    assert sorted(line.split()[0] for line in artist.stderr.splitlines()[1:]) == ["t18", "t19"]


def test_an_unknown_name_user_or_tag_suggests_the_closest_and_exits_2(world):
    result = cli(world, "similar", "--track", "Britny Spears - Toxik")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: unknown track 'Britny Spears - Toxik'; did you mean Britney Spears - Toxic (t01)"
    )
    assert len(result.stderr.splitlines()) == 1
    user = cli(world, "recommend", "--user", "u7")
    assert user.returncode == 2 and "did you mean u07" in user.stderr
    assert len(user.stderr.splitlines()) == 1
    profile = cli(world, "user-tags", "--user", "u077")
    assert profile.returncode == 2 and "did you mean u07" in profile.stderr
    for args in (["--user", "u01", "--tag", "dreampop"], ["--tags", "dreampop"]):
        tag = cli(world, "recommend", *args)
        assert tag.returncode == 2, args
        assert tag.stderr.startswith("error: unknown tag 'dreampop'; did you mean dream pop"), args


def test_search_finds_tracks_artists_users_and_tags(world):
    def found(query: str, *extra: str) -> list[tuple[str, str, str]]:
        hits = cli_json(world, "search", query, *extra)
        return [(h["kind"], h["id"], h["match"]) for h in hits]

    assert found("britney", "-n", "2") == [  # equally played: by name, Lucky, Oops, Toxic
        ("track", "t03", "prefix"),
        ("track", "t02", "prefix"),
        ("artist", "t01, t02, t03", "prefix"),
    ]
    assert found("billy") == [("artist", "t16", "prefix")]  # the item is the artist
    assert found("sigur ros") == [("track", "t13", "exact"), ("artist", "t13", "exact")]
    assert found("u07") == [("user", "u07", "exact")]
    assert found("dream p", "--top", "1") == [("tag", "dream pop", "prefix")]
    assert ("tag", "electronic", "fuzzy") in found("electronik")
    table = cli(world, "search", "heaven")
    assert table.returncode == 0
    assert any(
        re.fullmatch(r"\s*track\s+t08\s+Slowdive - Heaven\s+exact\s*", line)
        for line in table.stdout.splitlines()
    ), table.stdout
    nothing = cli(world, "search", "qqqqzzzz")
    assert nothing.returncode == 0 and "nothing in the model is named like" in nothing.stderr


def table_names(stdout: str) -> dict[str, str]:
    """{id: name} of a printed recommendation table (columns #, id, name, score, source)."""
    row = re.compile(r"\s*\d+\s+(\S+)\s+(.+?)\s+-?\d+\.\d{3}\s+\S+\s*")
    return {m[1]: m[2] for m in map(row.fullmatch, stdout.splitlines()) if m}


COUNTRY = {
    "t16": "Billy Ray Cyrus",  # not "Billy Ray Cyrus - Billy Ray Cyrus"
    "t17": "Dolly Parton - Jolene",
    "t18": "Johnny Cash - Ring of Fire",
    "t19": "Johnny Cash - Hurt",
}


def test_lists_and_explanations_show_each_name_once_and_never_blank(world):
    listed = cli(world, "recommend", "--tags", "country", "-n", "6")
    assert listed.returncode == 0, listed.stderr
    assert table_names(listed.stdout) == {**COUNTRY, "t20": "t20"}  # no name: its id
    similar = cli(world, "similar", "--track", "t20", "-n", "5")  # cold and nameless
    assert similar.returncode == 0, similar.stderr
    assert "tracks similar to t20" in similar.stdout
    assert table_names(similar.stdout) == COUNTRY

    # u03 played the four named country tracks: explanations name them as lists do
    results = cli_json(world, "recommend", "--user", "u03", "-n", "5", "--explain")
    close = {name for r in results for name in r["explanation"]["close_to"]}
    assert "Billy Ray Cyrus" in close and close <= set(COUNTRY.values())
    table = cli(world, "recommend", "--user", "u03", "-n", "5", "--explain")
    assert table.returncode == 0, table.stderr
    assert "Billy Ray Cyrus" in table.stdout
    assert "Billy Ray Cyrus - Billy Ray Cyrus" not in table.stdout
