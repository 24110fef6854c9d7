"""One bad value never costs the good rows (issue 14.1), through `recsys etl` on both databases.

NUL bytes in every text field, fields and lines too long for the parser (made sparse, so
a 200 MB line costs no disk and about a second), and tags that only look different.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import text

from tests.conftest import run_cli
from tests.test_etl_lastfm2k import write_hetrec

MB = 1 << 20


def load(env: dict[str, str], *args: str) -> dict:
    """Run `recsys etl ...`; it must succeed quietly (no traceback, nothing on stderr)."""
    result = run_cli(["-q", "etl", *args, "--json"], env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def quarantined(engine) -> dict[tuple[str, int], tuple[str, str]]:
    """{(file name, line): (reason, raw)} of the rejects table (what `recsys db rejects` lists)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT file, line, reason, raw FROM rejects")).all()
    return {(Path(file).name, line): (reason, raw) for file, line, reason, raw in rows}


def column(engine, sql: str) -> list:
    with engine.connect() as conn:
        return sorted(row[0] for row in conn.execute(text(sql)))


def sparse_line(path: Path, head: bytes, size: int, tail: bytes) -> Path:
    """`head`, then `size` NUL bytes as a hole (no disk, no time), then `tail`."""
    with path.open("wb") as handle:
        handle.write(head)
        handle.seek(size, 1)
        handle.write(tail)
    return path


def test_a_nul_in_any_text_field_costs_only_its_row(recsys_env, engine, tmp_path):
    listens = tmp_path / "listens.csv"
    listens.write_bytes(b"user,track,count\nu1,t1,3\nu\x002,t2,1\nu3,t\x003,1\nu4,t4,2\n")
    catalogue = tmp_path / "catalogue.csv"
    (tmp_path / "one.wav").write_bytes(b"")  # there: only the NUL rows are quarantined
    catalogue.write_bytes(
        b"track,title,artist,audio_path\n"
        b"t1,One,A,one.wav\n"
        b"t4,Fo\x00ur,A,four.wav\n"  # 3 title
        b"t4,Four,\x00,four.wav\n"  # 4 artist
        b"t4,Four,A,fo\x00ur.wav\n"  # 5 audio_path (was: ValueError, whole load lost)
        b"t\x005,Five,A,five.wav\n"  # 6 track id
    )
    tags = tmp_path / "tags.csv"
    # line 3: NUL in a tag (was: PostgreSQL CharacterNotInRepertoire, whole load lost)
    tags.write_bytes(b"user,track,tag\nu1,t1,rock\nu4,t4,ja\x00zz\nu4,t4,pop\n")
    summary = load(
        recsys_env,
        "csv",
        *("--listens", str(listens), "--catalogue", str(catalogue), "--tags", str(tags)),
    )
    assert summary["rejected_by_reason"] == {"undecodable_text": 7}
    assert summary["rows_loaded"] == 2 + 1 + 2  # listens, catalogue, tags
    rejects = quarantined(engine)
    assert {key: reason for key, (reason, _) in rejects.items()} == {
        ("listens.csv", 3): "undecodable_text",
        ("listens.csv", 4): "undecodable_text",
        **{("catalogue.csv", line): "undecodable_text" for line in (3, 4, 5, 6)},
        ("tags.csv", 3): "undecodable_text",
    }
    assert rejects[("catalogue.csv", 5)][1] == "t4,Four,A,fo\\x00ur.wav"  # NUL shown, not stored
    assert column(engine, "SELECT external_id FROM users") == ["u1", "u4"]
    assert column(engine, "SELECT external_id FROM tracks") == ["t1", "t4"]
    assert column(engine, "SELECT name FROM tags") == ["pop", "rock"]
    assert column(engine, "SELECT audio_path FROM tracks WHERE external_id = 't1'") == [
        str(tmp_path / "one.wav")
    ]


def test_a_nul_in_a_hetrec_tag_or_artist_name_costs_only_its_row(recsys_env, engine, tmp_path):
    folder = write_hetrec(tmp_path / "hetrec")
    with (folder / "tags.dat").open("ab") as handle:
        handle.write(b"4\tbad\x00tag\n")  # line 5
    with (folder / "artists.dat").open("ab") as handle:
        handle.write(b"50\tNul\x00Band\thttp://x\thttp://x.jpg\n")  # line 10
    summary = load(recsys_env, "lastfm-2k", str(folder))
    assert summary["rejected_by_reason"] == {"undecodable_text": 2, "unknown_track": 2}
    rejects = quarantined(engine)
    assert rejects[("tags.dat", 5)][0] == rejects[("artists.dat", 10)][0] == "undecodable_text"
    assert column(engine, "SELECT name FROM tags") == ["country", "favorite", "trip-hop"]
    assert len(column(engine, "SELECT external_id FROM tracks")) == 8


def test_huge_fields_and_a_huge_last_line_cost_only_their_rows(recsys_env, engine, tmp_path):
    # was: "straddling object straddles two block boundaries", the whole file rejected
    listens = sparse_line(
        tmp_path / "listens.csv", b"user,track,count\nu1,t1,3\nu2,t2,", 40 * MB, b"\nu3,t3,2\n"
    )
    tags = sparse_line(  # 200 MB last line without a newline
        tmp_path / "tags.csv", b"user,track,tag\nu1,t1,rock\nu3,t3,jazz\nu3,t3,", 200 * MB, b"x"
    )
    summary = load(recsys_env, "csv", "--listens", str(listens), "--tags", str(tags))
    assert summary["rejected_by_reason"] == {"too_long": 2}
    assert summary["rows_loaded"] == 4
    rejects = quarantined(engine)
    assert {key: reason for key, (reason, _) in rejects.items()} == {
        ("listens.csv", 3): "too_long",
        ("tags.csv", 4): "too_long",
    }
    raw = rejects[("listens.csv", 3)][1]
    assert raw.startswith("u2,t2,\\x00") and raw.endswith("...") and len(raw) == 4099
    assert column(engine, "SELECT external_id FROM users") == ["u1", "u3"]
    assert column(engine, "SELECT name FROM tags") == ["jazz", "rock"]


def test_tags_are_spelled_as_users_expect(recsys_env, engine, tmp_path):
    tags = tmp_path / "tags.csv"
    tags.write_text(
        "user,track,tag\n"
        "u1,t1,café\n"  # 2 NFC
        "u1,t1,cafe\u0301\n"  # 3 e + combining accent: the same tag
        "u1,t1,\uff2a\uff41\uff5a\uff5a\n"  # 4 full-width "Ｊａｚｚ": width-folded to jazz
        "u1,t1,ja\u200bzz\n"  # 5 a zero-width space inside: still jazz
        "u1,t1,\u200b\n"  # 6 only invisible: empty_tag
        "u1,t1,\u00ad\ufeff\u3164\n"  # 7 soft hyphen, BOM, Hangul filler: empty_tag
        "u1,t1,\U0001f468\u200d\U0001f469\n",  # 8 an emoji sequence keeps its joiner
        encoding="utf-8",
    )
    listens = tmp_path / "listens.csv"
    listens.write_text("user,track,count\nu1,t1,1\n")
    summary = load(recsys_env, "csv", "--listens", str(listens), "--tags", str(tags))
    assert summary["rejected_by_reason"] == {"empty_tag": 2}
    assert summary["loaded_by_table"]["tag_assignments"] == 3
    assert column(engine, "SELECT name FROM tags") == [
        "café",
        "jazz",
        "\U0001f468\u200d\U0001f469",
    ]
    assert set(quarantined(engine)) == {("tags.csv", 6), ("tags.csv", 7)}


def test_a_header_line_too_long_to_parse_is_one_clear_line(tmp_path):
    listens = sparse_line(tmp_path / "listens.csv", b"user,", 20 * MB, b"\nu1,t1,1\n")
    env = dict(os.environ, RECSYS_HOME=str(tmp_path / "home"))  # fails before any database
    env.pop("RECSYS_DATABASE_URL", None)
    result = run_cli(["etl", "csv", "--listens", str(listens)], env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {listens}: line 1 is over 16 MiB; a header row naming the columns is required"
    ]
