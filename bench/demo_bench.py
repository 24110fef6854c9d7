"""The demo catalogue's budget: `make demo` should finish in about a minute.

Measures the default `recsys etl demo` end to end in a fresh process (whatever
it runs: generation, loading, and the audio scan once that is wired in), and
the audio synthesiser alone as seconds of audio rendered per wall second with
one process and with all cores (the files are identical either way), and
whether the tags can be heard: a standardised logistic regression on plain
librosa clip statistics, trained on the warm tracks' crowd tags, scored on the
cold tracks' true tags (macro ROC-AUC; chance is 0.5).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from bench.harness import BenchContext, Result, run_measured

USERS, TRACKS, CLIP_SECONDS = 200, 300, 6.0


def run(ctx: BenchContext) -> list[Result]:
    from etl.demo import generate_demo

    results: list[Result] = []
    home = ctx.work_dir / "demo-home"
    database = f"sqlite:///{home / 'recsys.db'}"
    env = dict(os.environ, RECSYS_HOME=str(home), RECSYS_DATABASE_URL=database)
    seconds, rss, proc = run_measured(
        [sys.executable, "-m", "recommender.cli.app", "--quiet", "etl", "demo", "--json"], env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"recsys etl demo failed: {proc.stderr.strip().splitlines()[-2:]}")
    results.append(
        Result(
            benchmark="demo",
            metric="recsys etl demo (defaults)",
            value=seconds,
            unit="s",
            peak_rss_mb=rss,
            note=f"{USERS} users, {TRACKS} tracks x {CLIP_SECONDS:g} s, SQLite; budget ~60 s",
        )
    )
    audio_seconds = TRACKS * CLIP_SECONDS
    for workers in sorted({1, os.cpu_count() or 1}):
        out = ctx.work_dir / f"demo-w{workers}"
        started = time.perf_counter()
        generate_demo(out, users=USERS, tracks=TRACKS, clip_seconds=CLIP_SECONDS, workers=workers)
        elapsed = time.perf_counter() - started
        results.append(
            Result(
                benchmark="demo",
                metric=f"generate_demo, {workers} worker(s)",
                value=audio_seconds / elapsed,
                unit="audio s / wall s",
                note=f"{elapsed:.1f} s for {TRACKS} clips + CSVs",
            )
        )
    auc, tags = _cold_track_auc(out)
    results.append(
        Result(
            benchmark="demo",
            metric="tags heard: cold-track macro ROC-AUC",
            value=auc,
            unit="AUC",
            baseline=0.5,
            note=f"logistic regression on MFCC/chroma/contrast/tempogram stats, {tags} tags",
        )
    )
    for folder in [home, *ctx.work_dir.glob("demo-w*")]:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def _clip_features(path: Path) -> np.ndarray:
    import librosa

    y, sr = librosa.load(path, sr=None)
    power = np.abs(librosa.stft(y)) ** 2
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(librosa.feature.melspectrogram(S=power)))
    chroma = librosa.feature.chroma_stft(S=power, sr=sr)
    contrast = librosa.feature.spectral_contrast(S=np.sqrt(power), sr=sr)
    tempogram = librosa.feature.tempogram(y=y, sr=sr)[:40]
    stats = [f(x, axis=1) for x in (mfcc, chroma, contrast) for f in (np.mean, np.std)]
    return np.concatenate([*stats, librosa.feature.delta(mfcc).std(axis=1), tempogram.mean(axis=1)])


def _cold_track_auc(directory: Path) -> tuple[float, int]:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from etl.normalize import normalize_tag

    truth = json.loads((directory / "truth.json").read_text())
    tracks = list(truth["tracks"])
    features = np.array(
        [_clip_features(directory / truth["tracks"][t]["audio_path"]) for t in tracks]
    )
    cold = np.array([truth["tracks"][t]["cold"] for t in tracks])
    crowd = pd.read_csv(directory / "tags.csv")
    crowd_pairs = set(zip(crowd["track"], crowd["tag"].map(normalize_tag), strict=True))
    aucs = []
    for tag in truth["vocabulary"]["informative"]:
        labels = np.array([(t, tag) in crowd_pairs for t in tracks])
        actual = np.array([tag in truth["tracks"][t]["tags"] for t in tracks])
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
        model.fit(features[~cold], labels[~cold])
        aucs.append(roc_auc_score(actual[cold], model.predict_proba(features[cold])[:, 1]))
    return float(np.mean(aucs)), len(aucs)
