"""How each tag sounds: the recipe tables behind the demo's audio (the tagger's ground truth).

- genre: tempo, harmony (triads, sevenths, power chords, drones), how the chords
  are played (arpeggios, stabs, strums, sixteenths), a bass line, a drum pattern,
  and bus effects (rock distortion, electronic side-chain pumping, ambient noise);
- mood: tempo factor, major/minor mode, pitch register, loudness, brightness
  (low-pass or drive) and articulation (staccato / legato);
- instrument: which voice of etl.demo_voices plays; `drums` adds a kit playing
  the genre's pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

from etl.demo_voices import INSTRUMENT_VOICES

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class GenreStyle:
    tempo: float  # beats per minute before the mood factor
    progression: tuple[int, ...]  # scale degrees, one chord each
    chord_steps: int  # sixteenth-note steps per chord
    chord: str  # triad | seventh | power | add9
    comp: str  # arpeggio | stabs | eighths | sixteenths | strum | drone
    melody_steps: tuple[int, ...]  # note lengths the melody picks from, in steps
    bass: str  # held | walking | eighths | offbeat | alternating
    drums: dict[str, tuple[int, ...]]  # steps within a 16-step bar, per drum sound
    instruments: tuple[str, ...]  # what this genre is usually played on
    swing: float = 0.0  # delay of the off-beat eighth, as a fraction of a step
    drive: float = 0.0  # distortion of the instrument bus
    pump: float = 0.0  # side-chain ducking depth on every beat
    noise_wash: float = 0.0  # level of a slowly breathing band of noise


@dataclass(frozen=True)
class MoodStyle:
    tempo_factor: float
    scale: tuple[int, ...]
    register: int  # semitones added to chords and melody
    gain_db: float
    lowpass_hz: float | None  # darker moods lose their highs
    drive: float  # > 0 saturates the whole mix (brighter, denser)
    length_factor: float  # < 1 staccato, > 1 legato


GENRE_STYLES: dict[str, GenreStyle] = {
    "classical": GenreStyle(
        tempo=76,
        progression=(0, 3, 4, 0, 5, 3, 4, 0),
        chord_steps=16,
        chord="triad",
        comp="arpeggio",
        melody_steps=(4, 4, 8),
        bass="held",
        drums={"kick": (0, 8)},
        instruments=("piano", "strings"),
    ),
    "jazz": GenreStyle(
        tempo=132,
        progression=(1, 4, 0, 0, 5, 1, 4, 0),
        chord_steps=8,
        chord="seventh",
        comp="stabs",
        melody_steps=(2, 2, 4, 6),
        bass="walking",
        drums={"ride": (0, 4, 6, 8, 12, 14), "hat": (4, 12), "kick": (0,)},
        instruments=("piano", "drums"),
        swing=0.66,
    ),
    "rock": GenreStyle(
        tempo=118,
        progression=(0, 5, 3, 4),
        chord_steps=16,
        chord="power",
        comp="eighths",
        melody_steps=(4, 4, 8),
        bass="eighths",
        drums={"kick": (0, 8), "snare": (4, 12), "hat": (0, 2, 4, 6, 8, 10, 12, 14)},
        instruments=("guitar", "drums"),
        drive=4.0,
    ),
    "electronic": GenreStyle(
        tempo=126,
        progression=(0, 5, 3, 4),
        chord_steps=16,
        chord="triad",
        comp="sixteenths",
        melody_steps=(2, 2, 4),
        bass="offbeat",
        drums={"kick": (0, 4, 8, 12), "snare": (4, 12), "hat": (2, 6, 10, 14)},
        instruments=("synth", "drums"),
        pump=0.6,
    ),
    "folk": GenreStyle(
        tempo=100,
        progression=(0, 3, 0, 4),
        chord_steps=16,
        chord="triad",
        comp="strum",
        melody_steps=(4, 4, 2, 8),
        bass="alternating",
        drums={"kick": (0, 8), "snare": (4, 12)},
        instruments=("guitar", "strings"),
    ),
    "ambient": GenreStyle(
        tempo=64,
        progression=(0, 5, 3, 4),
        chord_steps=32,
        chord="add9",
        comp="drone",
        melody_steps=(8, 12, 16),
        bass="held",
        drums={"kick": (0,), "hat": (8,)},
        instruments=("synth", "strings"),
        noise_wash=0.35,
    ),
}

MOOD_STYLES: dict[str, MoodStyle] = {
    "happy": MoodStyle(
        1.08, MAJOR, register=12, gain_db=-5.0, lowpass_hz=None, drive=0.0, length_factor=0.55
    ),
    "energetic": MoodStyle(
        1.22, MAJOR, register=0, gain_db=-0.5, lowpass_hz=None, drive=3.0, length_factor=0.8
    ),
    "calm": MoodStyle(
        0.88, MAJOR, register=0, gain_db=-14.0, lowpass_hz=2500.0, drive=0.0, length_factor=1.4
    ),
    "sad": MoodStyle(
        0.8, MINOR, register=-12, gain_db=-11.0, lowpass_hz=1800.0, drive=0.0, length_factor=1.5
    ),
}

INSTRUMENTS: tuple[str, ...] = (*INSTRUMENT_VOICES, "drums")
