"""Render a score (MIDI or MusicXML) to audio, so notation goes through the audio pipeline.

`load_audio` calls `render_score` for the suffixes in `NOTATION_SUFFIXES`; the result is
mono float32 at the requested rate, cut to the same [offset, offset + duration) window,
so the song vector of a score is computed exactly like that of a recording.

Libraries, chosen for weight and robustness:
- MIDI: `pretty_midi` (on `mido`). It turns a Standard MIDI File into timed notes with the
  tempo map applied, refuses files whose tick count would exhaust memory, writes MIDI back,
  and has a simple synthesizer (`synthesize`), used here as the fallback.
- MusicXML: `partitura` (.musicxml, .xml and compressed .mxl). It is small (numpy, scipy,
  lxml, mido), parses with entity resolution and huge trees disabled, and exports a score to
  MIDI with its tempo marks. music21 parses more, but brings matplotlib, requests and a
  20 MB corpus for what is here one conversion. Only `score-partwise` files are read (what
  every notation program exports). Dynamics are not rendered: notes get velocity 64.

Rendering: the `fluidsynth` program with a General MIDI sound font (Debian: `fluidsynth`,
`fluid-soundfont-gm`) when both are found, dry (reverb and chorus off, so the same file
always gives the same samples); otherwise pretty_midi's additive synthesizer (a sine with
two overtones per note, no drums), with one `SynthesizerFallbackWarning` per render for
the interface to show. Both play at a fixed gain (a single forte note peaks near
-15 dBFS; no normalisation), so a window is exactly that slice of the whole rendering, as
for a recording.

A score lasts until its last sounding event (trailing rests are not rendered); only its
first `offset + duration` seconds (plus `CUT_MARGIN`) are rendered, at most
`MAX_RENDER_SECONDS`.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from recommender.errors import AudioDecodeError, RecsysWarning

if TYPE_CHECKING:
    import pretty_midi

MIDI_SUFFIXES = frozenset({".mid", ".midi"})
MUSICXML_SUFFIXES = frozenset({".musicxml", ".xml", ".mxl"})
NOTATION_SUFFIXES = MIDI_SUFFIXES | MUSICXML_SUFFIXES

# General MIDI sound fonts, best first: Debian's fluid-soundfont-gm, then the system default.
SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
MAX_RENDER_SECONDS = 3600.0
# Notes are cut this long after the analysis window, so their release (and the built-in
# synthesizer's 0.1 s fade-out) falls outside it and the window sounds as in the whole piece.
CUT_MARGIN = 0.5
FLUIDSYNTH_GAIN = 0.8  # fluidsynth's -g (its default 0.2 renders a single note near -27 dBFS)
BUILTIN_GAIN = 0.2
FLUIDSYNTH_RATES = (8000, 96000)  # fluidsynth's synth.sample-rate range
FLUIDSYNTH_TIMEOUT = 60.0  # seconds, plus one second per second of audio

Synthesizer = Literal["auto", "fluidsynth", "builtin"]


class SynthesizerFallbackWarning(RecsysWarning):
    """A score was rendered with the built-in synthesizer because FluidSynth is missing."""


FALLBACK_NOTICE = (
    "fluidsynth or a General MIDI sound font not found: MIDI/MusicXML rendered with the"
    " built-in sine synthesizer (apt-get install fluidsynth fluid-soundfont-gm for real"
    " instruments)"
)


@dataclass(frozen=True)
class FluidSynth:
    program: str
    soundfont: str


def is_notation(path: str | Path) -> bool:
    return Path(path).suffix.lower() in NOTATION_SUFFIXES


def find_fluidsynth() -> FluidSynth | None:
    """The `fluidsynth` program and a General MIDI sound font, or None if either is missing."""
    program = shutil.which("fluidsynth")
    if program is None:
        return None
    for soundfont in SOUNDFONTS:
        if Path(soundfont).is_file():
            return FluidSynth(program, soundfont)
    return None


def render_score(
    path: str | Path,
    *,
    sr: int = 22050,
    offset: float = 0.0,
    duration: float | None = None,
    synthesizer: Synthesizer = "auto",
) -> np.ndarray:
    """Samples of the score at `path` in [offset, offset + duration), mono float32 at `sr`.

    `synthesizer`: "auto" uses FluidSynth when `find_fluidsynth()` finds it, else the
    built-in one with a SynthesizerFallbackWarning; "fluidsynth" or "builtin" force one.
    The result may be empty (offset past the end); `load_audio` checks it like any audio.
    """
    path = Path(path)
    score = _read_score(path)
    end = score.get_end_time()
    stop = end if duration is None else min(end, offset + duration)
    if stop > MAX_RENDER_SECONDS:
        raise AudioDecodeError(
            f"{path}: the score lasts {end:,.0f} s; at most {MAX_RENDER_SECONDS:,.0f} s are"
            " rendered (analyse a shorter window with offset/duration)"
        )
    if stop + CUT_MARGIN < end:
        _cut(score, stop + CUT_MARGIN)
    n = int(round(stop * sr))
    fluid = find_fluidsynth() if synthesizer != "builtin" else None
    if synthesizer == "fluidsynth" and fluid is None:
        raise AudioDecodeError(
            f"{path}: fluidsynth or a General MIDI sound font is not installed"
            " (apt-get install fluidsynth fluid-soundfont-gm)"
        )
    if not any(instrument.notes for instrument in score.instruments):
        y = np.zeros(n, dtype=np.float32)  # the window is before the first note: silence
    elif fluid is not None:
        y = _fluidsynth(path, score, fluid, sr)
    else:
        if synthesizer == "auto":
            warnings.warn(FALLBACK_NOTICE, SynthesizerFallbackWarning, stacklevel=3)
        y = _builtin(path, score, sr)
    y = _fit(y, n)
    start = int(offset * sr)
    stop_sample = n if duration is None else start + int(duration * sr)
    return y[start:stop_sample]


def _read_score(path: Path) -> pretty_midi.PrettyMIDI:
    """Parse a MIDI or MusicXML file into notes; AudioDecodeError if it has none."""
    import pretty_midi

    suffix = path.suffix.lower()
    with warnings.catch_warnings():
        # both libraries warn about harmless oddities (meta events on other tracks, ...)
        warnings.simplefilter("ignore")
        if suffix in MIDI_SUFFIXES:
            try:
                score = pretty_midi.PrettyMIDI(str(path))
            except Exception as exc:  # mido/pretty_midi raise many kinds on bad bytes
                raise AudioDecodeError(
                    f"{path}: cannot read MIDI ({_reason(exc)}); is it a complete Standard"
                    " MIDI File? Export it again from the notation or sequencer program"
                ) from None
        else:
            import partitura

            try:
                parsed = partitura.load_musicxml(path)
                if not any(part.notes for part in parsed.parts):
                    raise AudioDecodeError(f"{path}: the score has no notes to render")
                midi = io.BytesIO()
                partitura.save_score_midi(parsed, None).save(file=midi)
                midi.seek(0)
                score = pretty_midi.PrettyMIDI(midi)
            except AudioDecodeError:
                raise
            except Exception as exc:  # lxml, zipfile, partitura: any bad input
                raise AudioDecodeError(
                    f"{path}: cannot read MusicXML ({_reason(exc)}); is it a complete"
                    " score-partwise .musicxml/.xml or compressed .mxl file? Export it again"
                ) from None
    if not any(instrument.notes for instrument in score.instruments):
        raise AudioDecodeError(f"{path}: the score has no notes to render")
    return score


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _cut(score: pretty_midi.PrettyMIDI, stop: float) -> None:
    """Drop what starts at or after `stop` and end sounding notes there (bounds the render)."""
    for instrument in score.instruments:
        instrument.notes = [note for note in instrument.notes if note.start < stop]
        for note in instrument.notes:
            note.end = min(note.end, stop)
        instrument.control_changes = [c for c in instrument.control_changes if c.time < stop]
        instrument.pitch_bends = [b for b in instrument.pitch_bends if b.time < stop]


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    """Exactly n samples: cut the synthesizer's release tail, pad a short render with silence."""
    y = np.asarray(y, dtype=np.float32)[:n]
    if y.size < n:
        y = np.concatenate([y, np.zeros(n - y.size, dtype=np.float32)])
    return np.ascontiguousarray(y)


def _fluidsynth(path: Path, score: pretty_midi.PrettyMIDI, fluid: FluidSynth, sr: int):
    import soundfile as sf

    low, high = FLUIDSYNTH_RATES
    rate = sr if low <= sr <= high else 44100
    seconds = score.get_end_time()  # after the cut
    with tempfile.TemporaryDirectory(prefix="recsys-render-") as folder:
        midi, wav = Path(folder) / "score.mid", Path(folder) / "render.wav"
        score.write(str(midi))
        # -n -i: no MIDI input, no shell; -R 0 -C 0: dry; -F: render the file, faster than real time
        command = [fluid.program, "-n", "-i", "-q", "-R", "0", "-C", "0", "-r", str(rate)]
        command += ["-g", str(FLUIDSYNTH_GAIN)]
        command += ["-O", "float", "-T", "wav", "-F", str(wav), fluid.soundfont, str(midi)]
        timeout = FLUIDSYNTH_TIMEOUT + seconds
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise AudioDecodeError(
                f"{path}: fluidsynth did not finish rendering within {timeout:.0f} s;"
                " analyse a shorter window (duration)"
            ) from None
        except OSError as exc:
            raise AudioDecodeError(f"{path}: cannot run fluidsynth ({exc})") from None
        output = (done.stderr + done.stdout).strip().splitlines()
        # fluidsynth exits 0 even when a file fails to load (a bad sound font is replaced
        # by its default one), so an error line is a failure too
        errors = [line for line in output if "error" in line.lower()]
        detail = (errors or output or [f"exit code {done.returncode}"])[0].strip()
        if done.returncode != 0 or errors or not wav.is_file() or wav.stat().st_size == 0:
            raise AudioDecodeError(
                f"{path}: fluidsynth could not render the score ({detail}); check that the"
                f" file opens in a MIDI player and that {fluid.soundfont} is a General MIDI"
                " sound font"
            )
        y, rendered_rate = sf.read(wav, dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if not np.any(y):
        said = f" ({detail})" if output else ""
        raise AudioDecodeError(
            f"{path}: fluidsynth rendered only silence{said}; is {fluid.soundfont} a"
            " General MIDI sound font? (reinstall fluid-soundfont-gm)"
        )
    if rendered_rate != sr:
        import librosa

        y = librosa.resample(y, orig_sr=rendered_rate, target_sr=sr)
    return y


def _overtones(phase: np.ndarray) -> np.ndarray:
    """The built-in voice: a sine with two soft overtones (peak stays at the fundamental)."""
    return np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase)


def _builtin(path: Path, score: pretty_midi.PrettyMIDI, sr: int) -> np.ndarray:
    if all(instrument.is_drum for instrument in score.instruments if instrument.notes):
        # (some instrument has notes: render_score checked)
        raise AudioDecodeError(
            f"{path}: the score has only percussion, which the built-in synthesizer cannot"
            " play (apt-get install fluidsynth fluid-soundfont-gm)"
        )
    parts = [i.synthesize(fs=sr, wave=_overtones) for i in score.instruments if not i.is_drum]
    y = np.zeros(max(part.size for part in parts), dtype=np.float32)
    for part in parts:
        y[: part.size] += part
    return BUILTIN_GAIN * y
