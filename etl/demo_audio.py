"""Render a demo track's audio from its tags, so that the tags are audible.

A clip is a score (chords, melody, bass, drums on a 16th-note grid with the
genre's swing) played by the track's voices and mixed with the genre's and
mood's effects; the recipes are in etl.demo_styles. Per-track randomness (key,
exact tempo, levels, melody, noise floor) comes from the track's own seed, so
clips differ but the same seed renders the same samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from etl.demo_styles import GENRE_STYLES, MOOD_STYLES, GenreStyle, MoodStyle
from etl.demo_voices import DRUM_SOUNDS, INSTRUMENT_VOICES, Voice, midi_to_hz, sine_bass, sine_pad


@dataclass(frozen=True)
class ClipPlan:
    """Everything that decides a clip's sound; `seed` drives the remaining detail."""

    genre: str
    mood: str
    instruments: tuple[str, ...]
    tempo: float  # the true beats per minute of the clip
    key: int  # 0 = C ... 11 = B
    seed: int


def plan_clip(
    *, genre: str, mood: str, instruments: tuple[str, ...], rng: np.random.Generator
) -> ClipPlan:
    """Draw the per-track variation (exact tempo, key, render seed) for a tag combination."""
    tempo = GENRE_STYLES[genre].tempo * MOOD_STYLES[mood].tempo_factor * rng.uniform(0.96, 1.04)
    return ClipPlan(
        genre=genre,
        mood=mood,
        instruments=tuple(instruments),
        tempo=round(float(tempo), 2),
        key=int(rng.integers(12)),
        seed=int(rng.integers(2**31)),
    )


# A note: (start seconds, held seconds, MIDI pitch, velocity).
Note = tuple[float, float, float, float]


def _chord_tones(scale: tuple[int, ...], degree: int, kind: str) -> list[int]:
    def tone(step: int) -> int:
        return scale[(degree + step) % 7] + 12 * ((degree + step) // 7)

    if kind == "power":
        return [tone(0), tone(0) + 7, tone(0) + 12]
    if kind == "seventh":
        return [tone(0), tone(2), tone(4), tone(6)]
    if kind == "add9":
        return [tone(0), tone(4), tone(8), tone(2) + 12]
    return [tone(0), tone(2), tone(4)]


class _Score:
    """The clip's timeline: step times with swing, and the chord under each step."""

    def __init__(self, plan: ClipPlan, style: GenreStyle, mood: MoodStyle, seconds: float):
        self.step = 60.0 / plan.tempo / 4.0
        self.n_steps = int(math.ceil(seconds / self.step)) + 1
        self.style, self.mood = style, mood
        self.root = 48 + plan.key  # C3..B3
        self.scale = mood.scale

    def time(self, step: float) -> float:
        swing = self.style.swing * self.step if int(step) % 4 == 2 else 0.0
        return step * self.step + swing

    def chord(self, step: int) -> list[int]:
        index = (step // self.style.chord_steps) % len(self.style.progression)
        return _chord_tones(self.scale, self.style.progression[index], self.style.chord)

    def hold(self, steps: float) -> float:
        return steps * self.step * self.mood.length_factor


def _comp_notes(score: _Score, rng: np.random.Generator) -> list[Note]:
    style, base = score.style, score.root + 12 + score.mood.register
    notes: list[Note] = []
    for s in range(score.n_steps):
        chord, pos = score.chord(s), s % 16
        vel = rng.uniform(0.6, 0.9)
        if style.comp == "arpeggio" and s % 2 == 0:
            tones = chord + [t + 12 for t in chord]
            notes.append((score.time(s), score.hold(3), base + tones[(s // 2) % len(tones)], vel))
        elif style.comp == "stabs" and pos in (0, 6, 10):
            notes += [(score.time(s), score.hold(2), base + t, vel) for t in chord]
        elif style.comp == "eighths" and s % 2 == 0:
            notes += [(score.time(s), score.hold(1.6), base - 12 + t, vel) for t in chord]
        elif style.comp == "sixteenths":
            tones = chord + [chord[0] + 12]
            notes.append((score.time(s), score.hold(0.8), base + tones[s % len(tones)], vel))
        elif style.comp == "strum" and pos in (0, 4, 6, 8, 12, 14):
            direction = 1 if pos in (0, 8) else -1
            for i, t in enumerate(chord[::direction] + [chord[0] + 12]):
                notes.append((score.time(s) + 0.012 * i, score.hold(3), base + t, vel * 0.8))
        elif style.comp == "drone" and s % style.chord_steps == 0:
            notes += [(score.time(s), score.hold(style.chord_steps), base + t, 0.6) for t in chord]
    return notes


def _melody_notes(score: _Score, rng: np.random.Generator) -> list[Note]:
    base = score.root + 24 + score.mood.register
    notes: list[Note] = []
    degree, s = int(rng.integers(0, 5)), 0
    while s < score.n_steps:
        length = int(rng.choice(score.style.melody_steps))
        if rng.random() > 0.2:  # a rest now and then
            pitch = score.scale[degree % 7] + 12 * (degree // 7)
            notes.append(
                (score.time(s), score.hold(length * 0.9), base + pitch, rng.uniform(0.6, 1.0))
            )
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 1, 1, 2]), -3, 9))
        s += length
    return notes


def _bass_notes(score: _Score) -> list[Note]:
    style, base = score.style, score.root - 12
    notes: list[Note] = []
    for s in range(score.n_steps):
        chord, pos = score.chord(s), s % 16
        root = base + chord[0]
        if style.bass == "held" and s % style.chord_steps == 0:
            notes.append((score.time(s), score.hold(style.chord_steps), root, 0.7))
        elif style.bass == "walking" and s % 4 == 0:
            tone = [chord[0], chord[1], chord[2], chord[0] + 11][(s // 4) % 4]
            notes.append((score.time(s), score.hold(3.5), base + tone, 0.8))
        elif style.bass == "eighths" and s % 2 == 0:
            notes.append((score.time(s), score.hold(1.5), root, 0.8))
        elif style.bass == "offbeat" and pos % 4 == 2:
            notes.append((score.time(s), score.hold(1.5), root, 0.9))
        elif style.bass == "alternating" and s % 4 == 0:
            notes.append((score.time(s), score.hold(3), root + (7 if pos in (4, 12) else 0), 0.7))
    return notes


def _play(voice: Voice, notes: list[Note], n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Mix notes into one buffer; a repeated note reuses its rendering (arpeggios repeat a lot)."""
    out = np.zeros(n)
    rendered: dict[tuple[float, float], np.ndarray] = {}
    for start, hold, pitch, vel in notes:
        first = int(start * sr)
        if first >= n:
            continue
        key = (pitch, round(hold, 4))
        if key not in rendered:
            length = int((hold + 0.4) * sr)
            rendered[key] = voice(midi_to_hz(pitch), length, sr, hold=hold, rng=rng)
        note = rendered[key][: n - first]
        out[first : first + note.size] += vel * note
    return out


def _drums(score: _Score, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    sounds = {name: DRUM_SOUNDS[name](sr, rng) for name in score.style.drums}
    out = np.zeros(n)
    for s in range(score.n_steps):
        for name, steps in score.style.drums.items():
            if s % 16 in steps:
                first = int(score.time(s) * sr)
                if first < n:
                    hit = sounds[name][: n - first] * rng.uniform(0.75, 1.0)
                    out[first : first + hit.size] += hit
    return out


def _normalise(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return x / peak if peak > 0 else x


def _level(rng: np.random.Generator, *, spread_db: float) -> float:
    """A random gain within +-spread_db, so parts and clips are never mixed exactly alike."""
    return 10 ** (rng.uniform(-spread_db, spread_db) / 20)


def _arrangement(
    plan: ClipPlan, score: _Score, n: int, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """The genre's band: the tagged voices, a bass line, the genre's effects and the kit."""
    style, seconds = score.style, n / sr
    pitched = [INSTRUMENT_VOICES[i] for i in plan.instruments if i in INSTRUMENT_VOICES]
    music = np.zeros(n)
    if pitched:  # one voice plays both parts; with two, the second one takes the melody
        comp_voice, melody_voice = pitched[0], pitched[-1]
        gain = _level(rng, spread_db=3)
        music += gain * _normalise(_play(comp_voice, _comp_notes(score, rng), n, sr, rng))
        gain = 0.8 * _level(rng, spread_db=3)
        music += gain * _normalise(_play(melody_voice, _melody_notes(score, rng), n, sr, rng))
        if style.drive:
            music = np.tanh(style.drive * _normalise(music)) * 1.5
    music += 0.6 * _normalise(_play(sine_bass, _bass_notes(score), n, sr, rng))
    if style.noise_wash:
        sos = signal.butter(2, [300.0, 1500.0], btype="band", fs=sr, output="sos")
        t = np.arange(n) / sr
        breath = 0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t + rng.random() * 6)
        music += style.noise_wash * _normalise(signal.sosfilt(sos, rng.standard_normal(n))) * breath
        music += 0.3 * _normalise(_play(sine_pad, [(0.0, seconds, score.root, 1.0)], n, sr, rng))
    if style.pump:
        beat = 4 * score.step
        music *= 1.0 - style.pump * np.exp(-((np.arange(n) / sr) % beat) / 0.08)
    if "drums" in plan.instruments:
        music = _normalise(music) + 1.4 * _normalise(_drums(score, n, sr, rng))
    return _normalise(music)


def _master(mix: np.ndarray, mood: MoodStyle, sr: int, rng: np.random.Generator) -> np.ndarray:
    """The mood's colour and loudness, a faint noise floor, 10 ms fades against clicks."""
    n = mix.size
    if mood.lowpass_hz:
        lowpass = signal.butter(2, mood.lowpass_hz, fs=sr, output="sos")
        mix = _normalise(signal.sosfilt(lowpass, mix))
    if mood.drive:
        mix = _normalise(np.tanh(mood.drive * mix))
    gain = 10 ** (mood.gain_db / 20) * _level(rng, spread_db=2.0)
    noise = 10 ** (rng.uniform(-55.0, -42.0) / 20) * rng.standard_normal(n)
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * sr))
    return np.clip((0.97 * gain * mix + noise) * fade, -1.0, 1.0).astype(np.float32)


def render_clip(plan: ClipPlan, *, seconds: float = 6.0, sample_rate: int = 22050) -> np.ndarray:
    """The clip as float32 samples in [-1, 1], mono, `round(seconds * sample_rate)` long."""
    rng = np.random.default_rng(plan.seed)
    style, mood = GENRE_STYLES[plan.genre], MOOD_STYLES[plan.mood]
    n = int(round(seconds * sample_rate))
    score = _Score(plan, style, mood, seconds)
    return _master(_arrangement(plan, score, n, sample_rate, rng), mood, sample_rate, rng)
