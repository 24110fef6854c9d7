"""Audio benchmark: extraction throughput vs a plain librosa script; tagger accuracy on gtzan-mini.

Throughput is seconds of audio per wall second, with 1 worker and with every
core, ours (recommender.audio.batch.extract_many) against the obvious librosa
script computing the same features (each librosa feature function on the
signal, so the STFT is recomputed per feature) in the same process pool. Both
sides are warmed up first (numba compiles librosa kernels on first use).

Accuracy: stratified 5-fold CV genre classification on the 100 gtzan-mini clips
for each tagger on our song vectors (summary + bag-of-frames), against the
reference recipe: standardised logistic regression on 20 MFCC means/stds, delta
stds, chroma and contrast statistics (computed by the plain script).
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import numpy as np

from bench.harness import Result, parallel_ceiling

NAME = "audio"
REPO_ROOT = Path(__file__).resolve().parents[1]
GTZAN = REPO_ROOT.parent / "shared" / "data" / "gtzan-mini"


def plain_librosa_features(path: str) -> np.ndarray:
    """The obvious script: one librosa call per feature, then the usual statistics."""
    import librosa

    y, sr = librosa.load(path, sr=22050, mono=True, duration=30.0)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    delta = librosa.feature.delta(mfcc)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    contrast = librosa.feature.spectral_contrast(y=y, sr=sr)
    onset = librosa.onset.onset_strength(y=y, sr=sr)
    librosa.feature.tempogram(onset_envelope=onset, sr=sr)
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=sr)
    return np.concatenate(
        [
            mfcc.mean(axis=1),
            mfcc.std(axis=1),
            delta.std(axis=1),
            chroma.mean(axis=1),
            chroma.std(axis=1),
            contrast.mean(axis=1),
            contrast.std(axis=1),
            [onset.mean(), onset.std(), float(tempo[0])],
        ]
    )


def _plain_many(paths: list[str], workers: int) -> list[np.ndarray]:
    from threadpoolctl import threadpool_limits

    from recommender.audio.batch import make_pool

    if workers == 1:
        with threadpool_limits(1):
            return [plain_librosa_features(p) for p in paths]
    with make_pool(workers) as pool:
        return list(pool.map(plain_librosa_features, paths))


def _ours_many(paths: list[str], workers: int):
    from recommender.audio.batch import extract_many
    from recommender.audio.config import FeatureConfig

    results = extract_many(paths, FeatureConfig(), workers=workers)
    bad = [r for r in results if isinstance(r, Exception)]
    if bad:
        raise RuntimeError(f"benchmark clips failed to decode: {bad[0]}")
    return results


def _synthetic_clips(folder: Path, count: int) -> list[str]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(30 * 22050) / 22050
    paths = []
    for i in range(count):
        y = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 1000) * t) + 0.05 * rng.standard_normal(
            t.size
        )
        path = folder / f"clip{i:03d}.wav"
        sf.write(path, y.astype(np.float32), 22050)
        paths.append(str(path))
    return paths


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def _cpu_seconds() -> float:
    """CPU time of this process and its reaped children (pool workers are joined on exit)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed_cpu(fn, *args):
    cpu = _cpu_seconds()
    wall, out = _timed(fn, *args)
    return wall, _cpu_seconds() - cpu, out


def _throughput(paths: list[str], audio_seconds: float) -> tuple[list[Result], dict]:
    cores = os.cpu_count() or 1
    _ours_many(paths[:1], 1), _plain_many(paths[:1], 1)  # warm-up: imports and numba compilation
    results, cache = [], {}
    runs = [1] + ([cores] if cores > 1 else [])
    speed = {}
    for workers in runs:
        t_ours, cpu_ours, ours = _timed_cpu(_ours_many, paths, workers)
        t_plain, cpu_plain, plain = _timed_cpu(_plain_many, paths, workers)
        cache["ours"], cache["plain"] = ours, plain
        speed[workers] = (audio_seconds / t_ours, audio_seconds / t_plain)
        label = "1 worker" if workers == 1 else f"{workers} workers (all cores)"
        results.append(
            Result(
                NAME,
                f"extraction throughput, {label}",
                round(audio_seconds / t_ours, 1),
                "audio s / wall s",
                baseline=round(audio_seconds / t_plain, 1),
                note=f"{len(paths)} clips, {audio_seconds:.0f} s audio; ref = plain librosa script",
            )
        )
        # Per CPU second: what one core achieves, independent of other load on the machine.
        results.append(
            Result(
                NAME,
                f"extraction per CPU second, {label}",
                round(audio_seconds / cpu_ours, 1),
                "audio s / CPU s",
                baseline=round(audio_seconds / cpu_plain, 1),
                note="ref = plain librosa script",
            )
        )
    if cores > 1:
        results.append(
            Result(
                NAME,
                f"speed-up 1 -> {cores} workers",
                round(speed[cores][0] / speed[1][0], 2),
                "x",
                baseline=round(speed[cores][1] / speed[1][1], 2),
                note=f"ideal {cores}.0; baseline = plain script",
            )
        )
        results.append(
            Result(
                NAME,
                f"machine ceiling: pure-CPU loop, 1 -> {cores} processes",
                round(parallel_ceiling(cores), 2),
                "x",
                note="what this machine's cores deliver right now (ideal = cores)",
            )
        )
    return results, cache


def _gtzan_accuracy(paths: list[str], labels: list[str], ours, plain) -> list[Result]:
    from recommender.tagging.evaluation import evaluate_genres, evaluate_logistic_baseline

    summaries = np.vstack([r.summary for r in ours])
    frames = [r.frames for r in ours]
    reference = evaluate_logistic_baseline(np.vstack(plain)[:, :106], labels, folds=5, seed=0)
    results = []
    for kind in ("linear", "mlp", "lightgbm"):
        seconds, scores = _timed(
            lambda k=kind: evaluate_genres(summaries, frames, labels, kind=k, folds=5, seed=0)
        )
        note = f"stratified 5-fold CV, {len(paths)} clips; ref = standardised logistic regression"
        results.append(
            Result(
                NAME,
                f"gtzan-mini accuracy, {kind}",
                round(scores.accuracy, 3),
                "",
                baseline=round(reference.accuracy, 3),
                note=note,
            )
        )
        results.append(
            Result(
                NAME,
                f"gtzan-mini macro ROC-AUC, {kind}",
                round(scores.macro_roc_auc, 3),
                "",
                baseline=round(reference.macro_roc_auc, 3),
                note=f"CV took {seconds:.1f} s",
            )
        )
    return results


def run(ctx) -> list[Result]:
    import soundfile as sf

    labels: list[str] = []
    if (GTZAN / "labels.csv").is_file():
        from recommender.tagging.genre_data import read_genre_clips

        clips = read_genre_clips(GTZAN)
        all_paths, labels = [str(p) for p in clips.paths], clips.labels
    else:
        all_paths = _synthetic_clips(ctx.work_dir / "clips", 40)
    count = min(len(all_paths), max(40, int(4000 * ctx.scale)))
    # every genre in the throughput sample: take clips round-robin from the sorted list
    order = np.argsort(np.arange(len(all_paths)) % 10, kind="stable")
    sample = [all_paths[i] for i in order[:count]]
    audio_seconds = sum(min(30.0, sf.info(p).duration) for p in sample)
    results, cache = _throughput(sample, audio_seconds)
    if not labels:
        results.append(
            Result(NAME, "gtzan-mini accuracy", float("nan"), note="skipped: ../shared/data absent")
        )
        return results
    ours, plain = (
        dict(zip(sample, cache["ours"], strict=True)),
        dict(zip(sample, cache["plain"], strict=True)),
    )
    rest = [p for p in all_paths if p not in ours]
    if rest:
        workers = os.cpu_count() or 1
        ours |= dict(zip(rest, _ours_many(rest, workers), strict=True))
        plain |= dict(zip(rest, _plain_many(rest, workers), strict=True))
    return results + _gtzan_accuracy(
        all_paths, labels, [ours[p] for p in all_paths], [plain[p] for p in all_paths]
    )
