"""Audio stays inside the data: catalogue paths are confined to the audio root, the scan
never opens what the catalogue did not name (symlinks made since, devices, FIFOs), files
over the byte cap are refused unread, and a malformed header is the file's fault."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import select

from recommender.storage.schema import Reject, Track
from tests.audio_signals import sine, wav_with_header, write
from tests.conftest import run_cli


def _write(path, text: str):
    path.write_text(text)
    return path


@pytest.fixture
def hostile(tmp_path):
    """A catalogue folder with two good files, one over a 100 kB cap, a sample-rate-0 WAV,
    a FIFO, a symlink out of the folder, and rows escaping it in every way we know."""
    folder = tmp_path / "catalogue"
    audio = folder / "audio"
    audio.mkdir(parents=True)
    write(audio / "good.wav", sine(440, 1.0), subtype="PCM_16")  # 44 kB
    write(audio / "good2.wav", sine(660, 1.0), subtype="PCM_16")
    write(audio / "big.wav", sine(550, 3.0), subtype="PCM_16")  # 132 kB: over the cap
    wav_with_header(audio / "sr0.wav", sample_rate=0)
    os.mkfifo(audio / "fifo.wav")
    os.symlink("/etc/hostname", audio / "link.wav")
    catalogue = _write(
        folder / "catalogue.csv",
        "track,title,artist,audio_path\n"
        "good,Good,A,audio/good.wav\n"  # 2 kept
        "good2,Good 2,A,./audio/../audio/good2.wav\n"  # 3 kept (inside once resolved)
        "passwd,P,A,../../../../../../../../etc/passwd\n"  # 4 audio_outside_root
        "shadow,S,A,/etc/shadow\n"  # 5 audio_outside_root
        "environ,E,A,/proc/self/environ\n"  # 6 audio_outside_root
        "zero,Z,A,/dev/zero\n"  # 7 audio_outside_root
        "link,L,A,audio/link.wav\n"  # 8 audio_outside_root (symlink out)
        "big,B,A,audio/big.wav\n"  # 9 kept, refused by the scan (cap)
        "sr0,S0,A,audio/sr0.wav\n"  # 10 kept, malformed header
        "fifo,F,A,audio/fifo.wav\n"  # 11 kept, never opened
        "none,N,A,\n",  # 12 kept, no audio
    )
    listens = _write(folder / "listens.csv", "user,track,count\nu1,good,3\nu1,passwd,2\n")
    return {"folder": folder, "catalogue": catalogue, "listens": listens}


def _stored(database_url: str) -> tuple[dict[str, str | None], set[tuple[int, str]]]:
    from recommender.storage.engine import make_engine

    engine = make_engine(database_url)
    with engine.connect() as conn:
        tracks = dict(conn.execute(select(Track.external_id, Track.audio_path)).all())
        rejects = {(r.line, r.reason) for r in conn.execute(select(Reject.line, Reject.reason))}
    engine.dispose()
    return tracks, rejects


def _clean(proc, code: int) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and "unexpected" not in proc.stderr


def test_catalogue_and_scan_stay_inside_the_audio_root(hostile, recsys_env, database_url):
    env = dict(recsys_env, RECSYS_AUDIO_MAX_BYTES="100000")
    load = run_cli(
        [
            "--quiet",
            "etl",
            "csv",
            "--json",
            "--listens",
            str(hostile["listens"]),
            "--catalogue",
            str(hostile["catalogue"]),
        ],
        env,
    )
    _clean(load, 0)
    assert json.loads(load.stdout)["rows_rejected"] == 5
    tracks, rejects = _stored(database_url)
    audio = (hostile["folder"] / "audio").resolve()
    assert rejects == {(line, "audio_outside_root") for line in (4, 5, 6, 7, 8)}
    assert tracks == {  # good rows kept, stored resolved; passwd only as a listened id
        "good": str(audio / "good.wav"),
        "good2": str(audio / "good2.wav"),
        "big": str(audio / "big.wav"),
        "sr0": str(audio / "sr0.wav"),
        "fifo": str(audio / "fifo.wav"),
        "none": None,
        "passwd": None,
    }
    # a symlink made after the load is not followed by the scan
    (audio / "good2.wav").unlink()
    os.symlink("/etc/hostname", audio / "good2.wav")

    scan = run_cli(["--quiet", "etl", "audio", "--workers", "1", "--json"], env, timeout=120)
    _clean(scan, 0)  # every failure is the files' fault
    summary = json.loads(scan.stdout)
    assert (summary["tracks"], summary["extracted"], summary["failed"]) == (5, 1, 4)
    failed = {f["track"]: (f["reason"], f["message"]) for f in summary["failures"]}
    assert failed["good2"][0] == "audio_outside_root" and "symlink" in failed["good2"][1]
    assert failed["big"] == (
        "audio_undecodable",
        f"{audio / 'big.wav'}: 132,344 bytes, over the 100,000-byte cap per audio file"
        " (raise RECSYS_AUDIO_MAX_BYTES to read it)",
    )
    assert failed["sr0"][0] == "audio_undecodable" and "sample rate 0 Hz" in failed["sr0"][1]
    assert failed["fifo"][0] == "audio_undecodable" and "FIFO" in failed["fifo"][1]
    assert _stored(database_url)[1] >= {(0, "audio_outside_root"), (0, "audio_undecodable")}


def test_a_configured_audio_root_confines_load_and_scan(hostile, recsys_env, database_url):
    root = hostile["folder"] / "audio"
    env = dict(recsys_env, RECSYS_AUDIO_ROOT=str(root))
    catalogue = _write(
        hostile["folder"] / "rooted.csv",
        "track,audio_path\n"
        "good,good.wav\n"  # 2 relative to the root
        f"abs,{root / 'good2.wav'}\n"  # 3 absolute, inside
        "up,../listens.csv\n",  # 4 inside the catalogue's folder, outside the root
    )
    load = run_cli(
        [
            "--quiet",
            "etl",
            "csv",
            "--listens",
            str(hostile["listens"]),
            "--catalogue",
            str(catalogue),
        ],
        env,
    )
    _clean(load, 0)
    tracks, rejects = _stored(database_url)
    assert rejects == {(4, "audio_outside_root")}
    assert tracks["good"] == str(root.resolve() / "good.wav") and "up" not in tracks

    missing = dict(env, RECSYS_AUDIO_ROOT=str(root / "nowhere"))
    again = run_cli(
        ["etl", "csv", "--listens", str(hostile["listens"]), "--catalogue", str(catalogue)], missing
    )
    _clean(again, 2)
    assert again.stderr.strip().count("\n") == 0 and "nowhere: no such folder" in again.stderr

    scan = run_cli(["--quiet", "etl", "audio", "--workers", "1", "--json"], env, timeout=120)
    _clean(scan, 0)
    assert json.loads(scan.stdout)["extracted"] == 2


def test_a_bad_byte_cap_is_one_line(recsys_env):
    proc = run_cli(["etl", "audio"], dict(recsys_env, RECSYS_AUDIO_MAX_BYTES="lots"))
    _clean(proc, 2)
    assert proc.stderr.strip() == (
        "error: RECSYS_AUDIO_MAX_BYTES='lots' is not a positive number of bytes;"
        " set e.g. RECSYS_AUDIO_MAX_BYTES=1073741824 or unset it"
    )
