"""The catalogue scan: stores song vectors, resumes, records undecodable files and carries on."""

from __future__ import annotations

import numpy as np
from sqlalchemy import insert, select

from etl.audio_scan import UNDECODABLE, scan_catalogue
from recommender.audio.config import FeatureConfig
from recommender.audio.frames import frame_dim
from recommender.audio.song_vector import extract_file, summary_dim
from recommender.services.audio_features import load_features, load_summaries
from recommender.services.audio_steps import AUDIO_MISSING
from recommender.storage.schema import EtlRun, Reject, Track
from tests.audio_signals import click_train, sine, white_noise, write

CONFIG = FeatureConfig(duration=3.0, frame_sample=16)


def _catalogue(engine, folder):
    folder.mkdir()
    good = {
        "tone": write(folder / "tone.wav", sine(440, 2.0)),
        "noise": write(folder / "noise.flac", white_noise(2.0)),
        "clicks": write(folder / "clicks.ogg", click_train(120, 2.0), subtype="VORBIS"),
    }
    stub = folder / "stub.ogg"
    stub.write_text("not really an ogg file\n")
    rows = [{"external_id": k, "audio_path": str(p)} for k, p in good.items()]
    rows += [
        {"external_id": "stub", "audio_path": str(stub)},
        {"external_id": "gone", "audio_path": "gone.wav"},  # relative, resolved against base_dir
        {"external_id": "no-audio", "audio_path": None},
    ]
    with engine.begin() as conn:
        conn.execute(insert(Track), rows)
    return good


def test_scan_stores_features_and_records_failures(engine, tmp_path):
    good = _catalogue(engine, tmp_path / "audio")
    seen = []
    summary = scan_catalogue(
        engine,
        workers=1,
        config=CONFIG,
        base_dir=tmp_path,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert (summary.tracks, summary.extracted, summary.skipped, summary.failed) == (5, 3, 0, 2)
    assert seen[-1] == (5, 5)
    assert summary.audio_seconds > 5.5
    assert {f["track"] for f in summary.failures} == {"stub", "gone"}
    reasons = {f["track"]: f["reason"] for f in summary.failures}
    assert reasons == {"stub": UNDECODABLE, "gone": AUDIO_MISSING}
    stub = next(f for f in summary.failures if f["track"] == "stub")
    assert "stub.ogg" in stub["message"] and "cannot decode" in stub["message"]
    gone = next(f for f in summary.failures if f["track"] == "gone")
    assert gone["message"].startswith(f"{tmp_path / 'gone.wav'}: no such file")

    stored = load_features(engine, CONFIG)
    assert sorted(stored.external_ids) == ["clicks", "noise", "tone"]
    assert stored.summaries.shape == (3, summary_dim(CONFIG))
    assert all(f.shape == (CONFIG.frame_sample, frame_dim(CONFIG)) for f in stored.frames)
    # the stored vector is exactly what featurising the file gives
    tone = stored.summaries[stored.external_ids.index("tone")]
    np.testing.assert_allclose(tone, extract_file(good["tone"], CONFIG).summary, rtol=1e-6)
    ids, summaries = load_summaries(engine, CONFIG)
    assert len(ids) == 3 and summaries.shape[1] == summary_dim(CONFIG)

    with engine.connect() as conn:
        rejects = conn.execute(select(Reject.file, Reject.line, Reject.reason)).all()
        run = conn.execute(
            select(EtlRun.status, EtlRun.rows_in, EtlRun.rows_loaded, EtlRun.rows_rejected).where(
                EtlRun.id == summary.run_id
            )
        ).one()
        checksum = conn.execute(
            select(Track.checksum).where(Track.external_id == "tone")
        ).scalar_one()
    by_file = {r.file.rsplit("/", 1)[-1]: (r.line, r.reason) for r in rejects}
    assert by_file == {"gone.wav": (0, AUDIO_MISSING), "stub.ogg": (0, UNDECODABLE)}
    assert (run.status, run.rows_in, run.rows_loaded, run.rows_rejected) == ("ok", 5, 3, 2)
    assert checksum and len(checksum) == 64


def test_scan_is_resumable_and_notices_changed_files(engine, tmp_path):
    good = _catalogue(engine, tmp_path / "audio")
    scan_catalogue(engine, workers=1, config=CONFIG, base_dir=tmp_path)
    again = scan_catalogue(engine, workers=1, config=CONFIG, base_dir=tmp_path)
    assert (again.extracted, again.skipped, again.failed) == (0, 3, 2)  # failures are retried
    write(good["tone"], sine(880, 2.0))
    changed = scan_catalogue(engine, workers=1, config=CONFIG, base_dir=tmp_path)
    assert (changed.extracted, changed.skipped) == (1, 2)
    with engine.connect() as conn:
        assert len(conn.execute(select(Reject.id)).all()) == 2  # one row per file, not per run
    other = FeatureConfig(duration=1.0, frame_sample=8)
    fresh = scan_catalogue(engine, workers=1, config=other, base_dir=tmp_path)
    assert fresh.extracted == 3  # a new extractor version gets its own rows
    assert len(load_features(engine, CONFIG).track_ids) == 3


def test_repaired_file_loses_its_reject_and_changed_file_updates_checksum(engine, tmp_path):
    good = _catalogue(engine, tmp_path / "audio")
    scan_catalogue(engine, workers=1, config=CONFIG, base_dir=tmp_path)
    stub = tmp_path / "audio" / "stub.ogg"
    write(stub, sine(330, 2.0), subtype="VORBIS")  # the broken file is fixed upstream
    write(good["tone"], sine(880, 2.0))  # and another one is re-mastered
    with engine.connect() as conn:
        old_checksum = conn.execute(
            select(Track.checksum).where(Track.external_id == "tone")
        ).scalar_one()
    repaired = scan_catalogue(engine, workers=1, config=CONFIG, base_dir=tmp_path)
    assert (repaired.extracted, repaired.failed) == (2, 1)
    with engine.connect() as conn:
        rejected = [r.file for r in conn.execute(select(Reject.file)).all()]
        new_checksum = conn.execute(
            select(Track.checksum).where(Track.external_id == "tone")
        ).scalar_one()
    assert [f.rsplit("/", 1)[-1] for f in rejected] == ["gone.wav"]
    assert new_checksum != old_checksum and len(new_checksum) == 64


def test_parallel_scan_matches_serial(sqlite_url, tmp_path):
    from recommender.storage.engine import make_engine

    serial_engine = make_engine(sqlite_url)
    _catalogue(serial_engine, tmp_path / "audio")
    scan_catalogue(serial_engine, workers=1, config=CONFIG, base_dir=tmp_path)
    parallel_engine = make_engine(f"sqlite:///{tmp_path / 'parallel.db'}")
    with serial_engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(Track.external_id, Track.audio_path))]
    with parallel_engine.begin() as conn:
        conn.execute(insert(Track), rows)
    summary = scan_catalogue(parallel_engine, workers=2, config=CONFIG, base_dir=tmp_path)
    assert (summary.extracted, summary.failed) == (3, 2)
    a, b = load_features(serial_engine, CONFIG), load_features(parallel_engine, CONFIG)
    assert a.external_ids == b.external_ids
    np.testing.assert_allclose(
        a.summaries, b.summaries, rtol=1e-5, atol=1e-5
    )  # BLAS threads differ


def test_feature_bug_fails_the_cli_with_exit_1(sqlite_url, tmp_path, monkeypatch, capsys):
    """An undecodable file is the data's fault (exit 0, reported); a crash in our code is not."""
    import pytest

    import recommender.audio.song_vector as song_vector
    from recommender.cli.app import main
    from recommender.storage.engine import make_engine

    _catalogue(make_engine(sqlite_url), tmp_path / "audio")

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("feature bug")

    monkeypatch.setattr(song_vector, "extract_file", broken)
    with pytest.raises(SystemExit) as exit_info:
        main(["--database-url", sqlite_url, "-q", "etl", "audio", "--workers", "1", "--json"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    # the missing file is refused when opened, before any feature code: 4 files, not 5
    assert len(err) == 1 and "feature extraction failed on 4 file(s)" in err[0]
