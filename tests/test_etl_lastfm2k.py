"""HetRec 2011 Last.fm 2K: the real files, and a small folder in the same format, loaded
into SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from etl.lastfm2k import load_lastfm_2k
from recommender.storage.stats import database_stats
from tests.conftest import run_cli, shared_data


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.mark.shared_data
def test_hetrec_counts_names_and_dates(engine):
    directory = shared_data("hetrec2011-lastfm-2k")
    summary = load_lastfm_2k(engine, directory, unknown_artists="create")

    counts = database_stats(engine)["counts"]
    assert counts["users"] == 1892
    # 17,632 artists + 390 artist ids that only user_taggedartists.dat mentions
    assert counts["tracks"] == 18022
    assert counts["tracks_without_listens"] == 390
    assert counts["listens"] == 92834
    # 11,946 tag ids; 6 pairs differ only in whitespace and merge when normalised
    assert counts["tags"] == 11940
    # 186,479 assignments; 2 become duplicates after normalisation
    assert counts["tag_assignments"] == 186477
    assert counts["rejects"] == 0
    assert summary.rows_in == 17632 + 11946 + 92834 + 186479
    assert summary.rows_rejected == 0

    # Latin-1 tags.dat and UTF-8 artists.dat decoded correctly
    for name in ("fußball", "rock français", "tropicália", "die ärzte", "düsseldorf"):
        assert scalar(engine, "SELECT COUNT(*) FROM tags WHERE name = :n", n=name) == 1, name
    assert scalar(engine, "SELECT title FROM tracks WHERE external_id = '64'") == "Röyksopp"
    assert scalar(engine, "SELECT artist FROM tracks WHERE external_id = '158'") == "עברי לידר"
    assert scalar(engine, "SELECT COUNT(*) FROM tags WHERE name = '1st vine'") == 1
    assert (
        scalar(
            engine,
            "SELECT play_count FROM listens l JOIN users u ON u.id = l.user_id "
            "JOIN tracks t ON t.id = l.track_id WHERE u.external_id = '2' AND t.external_id = '51'",
        )
        == 13883
    )
    # user 2 tagged artist 52 (Morcheeba) with tag 13 (chillout) on 1 April 2009
    tagged_at = scalar(
        engine,
        "SELECT a.tagged_at FROM tag_assignments a JOIN users u ON u.id = a.user_id "
        "JOIN tracks t ON t.id = a.track_id JOIN tags g ON g.id = a.tag_id "
        "WHERE u.external_id = '2' AND t.external_id = '52' AND g.name = 'chillout'",
    )
    assert tagged_at == 1238544000


@pytest.mark.shared_data
def test_hetrec_reload_is_a_no_op_and_by_default_unknown_artists_are_quarantined(engine):
    directory = shared_data("hetrec2011-lastfm-2k")
    strict = load_lastfm_2k(engine, directory)
    assert strict.rejected_by_reason == {"unknown_track": 1538}
    assert database_stats(engine)["counts"]["tracks"] == 17632
    assert (
        scalar(engine, "SELECT COUNT(DISTINCT line) FROM rejects WHERE reason = 'unknown_track'")
        == 1538
    )

    again = load_lastfm_2k(engine, directory)
    assert set(again.loaded_by_table.values()) == {0}
    # 186,479 - 1,538 unknown-artist rows, minus the 2 that merge when tags are normalised
    assert scalar(engine, "SELECT COUNT(*) FROM tag_assignments") == 184939


# ---- a small folder in the HetRec format ----------------------------------------------------
ARTISTS = ["Billy Ray Cyrus", "Miley Cyrus", "Dolly Parton", "Johnny Cash"]
ARTISTS += ["Björk", "Sigur Rós", "Massive Attack", "Portishead"]
TAGGED_ONLY = "99"  # tagged by users 1 and 2, in neither artists.dat nor user_artists.dat


def write_hetrec(folder: Path) -> Path:
    """Twelve users: 1-6 play and tag artists 1-4 "country", 7-12 artists 5-8 "trip-hop"."""
    folder.mkdir()
    artists = ["id\tname\turl\tpictureURL"]
    artists += [f"{i}\t{name}\thttp://x/{i}\thttp://x/{i}.jpg" for i, name in enumerate(ARTISTS, 1)]
    (folder / "artists.dat").write_text("\n".join(artists) + "\n", encoding="utf-8")
    tags = "tagID\ttagValue\n1\tcountry\n2\ttrip-hop\n3\tfavorite\n"
    (folder / "tags.dat").write_text(tags, encoding="latin-1")
    plays, tagged = ["userID\tartistID\tweight"], ["userID\tartistID\ttagID\tday\tmonth\tyear"]
    for user in range(1, 13):
        first, tag = (1, 1) if user <= 6 else (5, 2)
        for k in range(3):
            artist = first + (user + k) % 4
            plays.append(f"{user}\t{artist}\t{100 * (k + 1) + user}")
            tagged.append(f"{user}\t{artist}\t{tag}\t1\t4\t2009")
    tagged += [f"1\t{TAGGED_ONLY}\t1\t1\t4\t2009", f"2\t{TAGGED_ONLY}\t1\t2\t4\t2009"]
    (folder / "user_artists.dat").write_text("\n".join(plays) + "\n")
    (folder / "user_taggedartists.dat").write_text("\n".join(tagged) + "\n")
    return folder


def test_artists_known_only_from_tags_are_quarantined_by_default(recsys_env, tmp_path, engine):
    folder = write_hetrec(tmp_path / "hetrec")
    loaded = run_cli(["-q", "etl", "lastfm-2k", str(folder), "--json"], recsys_env)
    assert loaded.returncode == 0, loaded.stderr
    summary = json.loads(loaded.stdout)
    assert summary["rejected_by_reason"] == {"unknown_track": 2}
    assert database_stats(engine)["counts"]["tracks"] == 8
    rejects = run_cli(["db", "rejects", "--json"], recsys_env)
    assert rejects.returncode == 0, rejects.stderr
    quarantined = json.loads(rejects.stdout)
    tagged_file = str(folder / "user_taggedartists.dat")
    assert sorted((r["file"], r["line"], r["reason"]) for r in quarantined["rejects"]) == [
        (tagged_file, 38, "unknown_track"),  # the header is line 1, 36 rows of known artists
        (tagged_file, 39, "unknown_track"),
    ]

    # user 1 played artists 2-4: every other artist is listed, each by its name (loaded
    # with --unknown-artists create, a row "99 | 99" came sixth)
    trained = run_cli(["-q", "train", "--no-validate"], recsys_env)
    assert trained.returncode == 0, trained.stderr
    listed = run_cli(["recommend", "--user", "1", "-n", "10", "--json"], recsys_env)
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert {r["item_id"]: r["title"] for r in items} == {
        str(i): ARTISTS[i - 1] for i in (1, 5, 6, 7, 8)
    }


def test_create_keeps_artists_known_only_from_tags_without_a_name(engine, tmp_path):
    folder = write_hetrec(tmp_path / "hetrec")
    summary = load_lastfm_2k(engine, folder, unknown_artists="create")
    assert summary.rows_rejected == 0
    assert database_stats(engine)["counts"]["tracks"] == 9
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT title, artist FROM tracks WHERE external_id = :t"), {"t": TAGGED_ONLY}
        ).one()
    assert tuple(row) == (None, None)  # lists show it by its id (`display_name`)
