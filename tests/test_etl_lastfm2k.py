"""The real HetRec 2011 Last.fm 2K files, loaded into SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from etl.lastfm2k import load_lastfm_2k
from recommender.storage.stats import database_stats
from tests.conftest import shared_data

pytestmark = pytest.mark.shared_data


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_hetrec_counts_names_and_dates(engine):
    directory = shared_data("hetrec2011-lastfm-2k")
    summary = load_lastfm_2k(engine, directory)

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


def test_hetrec_reload_is_a_no_op_and_reject_policy_quarantines_unknown_artists(engine):
    directory = shared_data("hetrec2011-lastfm-2k")
    strict = load_lastfm_2k(engine, directory, unknown_artists="reject")
    assert strict.rejected_by_reason == {"unknown_track": 1538}
    assert database_stats(engine)["counts"]["tracks"] == 17632
    assert (
        scalar(engine, "SELECT COUNT(DISTINCT line) FROM rejects WHERE reason = 'unknown_track'")
        == 1538
    )

    again = load_lastfm_2k(engine, directory, unknown_artists="reject")
    assert set(again.loaded_by_table.values()) == {0}
    # 186,479 - 1,538 unknown-artist rows, minus the 2 that merge when tags are normalised
    assert scalar(engine, "SELECT COUNT(*) FROM tag_assignments") == 184939
