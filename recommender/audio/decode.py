"""Decode any file libsndfile (or librosa's fallback) can read into mono float32 at one rate.

Scores (.mid/.midi MIDI, .musicxml/.xml/.mxl MusicXML) are rendered to audio first
(recommender.audio.notation), then checked like any decoded audio.

Every way a file can fail (missing, empty, not audio, truncated, zero length,
silent) becomes one `AudioDecodeError` naming the file, so a catalogue scan can
record it and carry on, and `recsys tag` can exit 2 with one line.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from recommender.audio.notation import is_notation, render_score
from recommender.errors import AudioDecodeError, file_problem

# Peak amplitude below which a decoded signal counts as silent (about -100 dBFS).
SILENCE_PEAK = 1e-5


def load_audio(
    path: str | Path,
    *,
    sr: int = 22050,
    offset: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """Return the samples of `path` in [offset, offset + duration) as mono float32 at `sr`.

    Shape: (n_samples,). Raises AudioDecodeError for anything that is not usable audio.
    A MIDI or MusicXML file (see notation.NOTATION_SUFFIXES) is rendered to audio first.
    """
    path = Path(path)
    problem = file_problem(path, "audio file")
    if problem is not None:
        raise AudioDecodeError(f"{path}: {problem}")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"{path}: empty file (0 bytes); re-export the audio")
    if is_notation(path):
        y = render_score(path, sr=sr, offset=offset, duration=duration)
    else:
        y = _decode(path, sr=sr, offset=offset, duration=duration)
    if y.size == 0:
        where = f" after offset {offset:g} s" if offset else ""
        raise AudioDecodeError(f"{path}: no audio samples{where} (zero length or truncated)")
    if not np.all(np.isfinite(y)):
        raise AudioDecodeError(f"{path}: decoded samples contain NaN or infinity (corrupt file)")
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioDecodeError(f"{path}: the analysed audio is silent (peak below -100 dBFS)")
    return y.astype(np.float32, copy=False)


def _decode(path: Path, *, sr: int, offset: float, duration: float | None) -> np.ndarray:
    """librosa's decode of an audio file; AudioDecodeError for anything it cannot read."""
    import librosa
    from audioread.exceptions import DecodeError

    try:
        with warnings.catch_warnings():
            # librosa warns before falling back to audioread; the outcome is what matters.
            warnings.simplefilter("ignore")
            y, _ = librosa.load(path, sr=sr, mono=True, offset=offset, duration=duration)
    except (RuntimeError, EOFError, ValueError, OSError, DecodeError) as exc:
        # soundfile raises LibsndfileError (a RuntimeError), audioread DecodeError, and
        # truncated streams EOFError/ValueError; anything else is a bug, not bad audio.
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else "not a recognised audio format"
        raise AudioDecodeError(
            f"{path}: cannot decode audio ({reason}); is it a complete WAV/FLAC/Ogg/MP3/AU file?"
        ) from None
    return y
