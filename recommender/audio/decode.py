"""Decode any file libsndfile (or librosa's fallback) can read into mono float32 at one rate.

Scores (.mid/.midi MIDI, .musicxml/.xml/.mxl MusicXML) are rendered to audio first
(recommender.audio.notation), then checked like any decoded audio.

Every way a file can fail (missing, not a regular file, over the byte cap, empty, not
audio, a malformed header such as sample rate 0, truncated, zero length, silent) becomes
one `AudioDecodeError` naming the file, so a catalogue scan can record it and carry on,
and `recsys tag` can exit 2 with one line. Files are opened through
`recommender.audio.files.open_audio` and decoded from that handle.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np

from recommender.audio.files import open_audio
from recommender.audio.notation import is_notation, render_score
from recommender.errors import AudioDecodeError

# Peak amplitude below which a decoded signal counts as silent (about -100 dBFS).
SILENCE_PEAK = 1e-5
# Header values a real recording has; outside them the header is malformed (a sample
# rate of 0 divides by zero, one of 1 Hz would resample a file into gigabytes).
SAMPLE_RATES = (1_000, 768_000)
MAX_CHANNELS = 256


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
    with open_audio(path) as handle:
        if handle.seek(0, 2) == 0:
            raise AudioDecodeError(f"{path}: empty file (0 bytes); re-export the audio")
        handle.seek(0)
        if is_notation(path):
            y = render_score(path, sr=sr, offset=offset, duration=duration)
        else:
            y = _decode(path, handle, sr=sr, offset=offset, duration=duration)
    if y.size == 0:
        where = f" after offset {offset:g} s" if offset else ""
        raise AudioDecodeError(f"{path}: no audio samples{where} (zero length or truncated)")
    if not np.all(np.isfinite(y)):
        raise AudioDecodeError(f"{path}: decoded samples contain NaN or infinity (corrupt file)")
    if float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioDecodeError(f"{path}: the analysed audio is silent (peak below -100 dBFS)")
    return y.astype(np.float32, copy=False)


def check_header(path: str | Path, samplerate: float, channels: int) -> None:
    """AudioDecodeError for a header no recording has (the file's fault, not ours)."""
    low, high = SAMPLE_RATES
    if not low <= samplerate <= high:
        raise AudioDecodeError(
            f"{path}: malformed header (sample rate {samplerate:g} Hz, expected"
            f" {low:,}-{high:,}); re-export the audio"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioDecodeError(
            f"{path}: malformed header ({channels} channels); re-export the audio"
        )


def _decode(
    path: Path, handle: BinaryIO, *, sr: int, offset: float, duration: float | None
) -> np.ndarray:
    """librosa's decode of an open audio file, its header checked first; AudioDecodeError
    for anything it cannot read. What libsndfile cannot open goes to audioread (by path,
    the file having passed `open_audio`), whose header is checked the same way."""
    import librosa
    import soundfile as sf
    from audioread.exceptions import DecodeError

    try:
        with warnings.catch_warnings():
            # librosa warns about audioread's deprecation; the outcome is what matters.
            warnings.simplefilter("ignore")
            try:
                source = sf.SoundFile(handle)
            except sf.SoundFileRuntimeError:
                import audioread

                source = audioread.audio_open(str(path))
            with source:
                check_header(path, source.samplerate, source.channels)
                if isinstance(source, sf.SoundFile) and offset * source.samplerate >= source.frames:
                    return np.zeros(0, dtype=np.float32)  # a handle cannot seek past its end
                y, _ = librosa.load(source, sr=sr, mono=True, offset=offset, duration=duration)
    except (RuntimeError, EOFError, ValueError, OSError, DecodeError) as exc:
        # soundfile raises LibsndfileError (a RuntimeError), audioread DecodeError, and
        # truncated streams EOFError/ValueError; anything else is a bug, not bad audio.
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else "not a recognised audio format"
        raise AudioDecodeError(
            f"{path}: cannot decode audio ({reason}); is it a complete WAV/FLAC/Ogg/MP3/AU file?"
        ) from None
    return y
