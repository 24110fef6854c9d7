"""On the demo catalogue (audible tags), the tagger beats the popularity baseline widely."""

from __future__ import annotations

import pytest

from etl.audio_scan import scan_catalogue
from recommender.services.tagger_training import train_tagger
from recommender.storage.engine import make_engine


@pytest.mark.slow
def test_tagger_beats_popularity_on_held_out_demo_tracks(tmp_path, sqlite_url):
    from etl.demo import load_demo

    engine = make_engine(sqlite_url)
    load_demo(engine, tmp_path / "home", users=80, tracks=150, seed=0, clip_seconds=4.0, workers=2)
    scan = scan_catalogue(engine, workers=2)
    assert scan.failed == 0 and scan.extracted == 150
    report = train_tagger(engine, tmp_path / "home" / "models", kind="linear", seed=0)
    assert {"favorites", "seen live", "awesome"} <= set(report.excluded_tags)
    assert len(report.tags) >= 8 and report.test_tracks >= 15
    held, base = report.held_out, report.baseline
    assert base["macro_roc_auc"] == pytest.approx(0.5)
    assert held["macro_roc_auc"] > 0.75, held
    assert held["micro_roc_auc"] > base["micro_roc_auc"] + 0.15
    assert held["macro_pr_auc"] > base["macro_pr_auc"] + 0.2
    assert report.predicted_tracks == 150  # cold tracks included
