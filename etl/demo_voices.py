"""Synthesised instrument voices and drum sounds for the demo catalogue.

Each voice has its own acoustic fingerprint so that an audio tagger can learn
the instrument tags from the signal: piano = struck, stretched partials that
decay; strings = bowed sawtooth with slow attack and vibrato; guitar =
Karplus-Strong plucked string; synth = detuned, filtered sawtooth; drums =
kick / snare / hi-hat / ride. Every function renders one note or hit as a
float64 array of `n` samples, vectorised over samples (no per-sample loops).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import signal


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _time(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64) / sr


def _gate(t: np.ndarray, *, hold: float, attack: float, release: float) -> np.ndarray:
    """Attack ramp, sustain until `hold` seconds, then an exponential release."""
    env = np.minimum(1.0, t / max(attack, 1e-4))
    after = t > hold
    env[after] *= np.exp(-(t[after] - hold) / max(release, 1e-4))
    return env


def piano(freq: float, n: int, sr: int, *, hold: float, rng: np.random.Generator) -> np.ndarray:
    """Struck string: harmonic partials, the higher ones dying faster, plus a hammer click."""
    t = _time(n, sr)
    x = 2 * np.pi * freq * t
    two_cos = 2.0 * np.cos(x)
    previous, current = np.zeros(n), np.sin(x)  # sin((k-1)x), sin(kx): Chebyshev recursion
    base_decay = (freq / 262.0) ** 0.4
    envelope = np.exp(-2.1 * base_decay * t)  # partial 1; each further partial decays faster
    step = np.exp(-0.9 * base_decay * t)
    out = np.zeros(n)
    for k in range(1, 11):
        if k * freq > 0.45 * sr:
            break
        out += current * envelope / k**1.1
        previous, current = current, two_cos * current - previous
        envelope = envelope * step
    click = rng.standard_normal(min(n, int(0.004 * sr))) * 0.15
    out[: click.size] += click
    return out * _gate(t, hold=hold, attack=0.002, release=0.08)


def strings(freq: float, n: int, sr: int, *, hold: float, rng: np.random.Generator) -> np.ndarray:
    """Bowed section: two detuned sawtooths with 5-6 Hz vibrato, softened, with a slow swell."""
    t = _time(n, sr)
    vibrato = 1.0 + 0.006 * np.sin(2 * np.pi * (5.0 + rng.random()) * t + rng.random() * 6)
    cycles = np.cumsum(freq * vibrato) / sr  # the detuned voices share the vibrato
    out = np.zeros(n)
    for detune in (0.9975, 1.0025):
        out += 2.0 * ((detune * cycles + rng.random()) % 1.0) - 1.0
    sos = signal.butter(2, min(0.45 * sr, freq * 10.0), btype="low", fs=sr, output="sos")
    return 0.5 * signal.sosfilt(sos, out) * _gate(t, hold=hold, attack=0.12, release=0.18)


def guitar(freq: float, n: int, sr: int, *, hold: float, rng: np.random.Generator) -> np.ndarray:
    """Karplus-Strong plucked string: a noise burst circulating in a damped delay line."""
    period = max(2, int(round(sr / freq)))
    burst = rng.uniform(-1.0, 1.0, period)
    burst = np.convolve(burst, [0.5, 0.5], mode="same")  # a softer pick
    excitation = np.zeros(n)
    excitation[: min(n, period)] = burst[: min(n, period)]
    feedback = np.zeros(period + 2)
    feedback[0] = 1.0
    feedback[period] = feedback[period + 1] = -0.4985  # loss < 1 so the string decays
    out = signal.lfilter([1.0], feedback, excitation)
    return out * _gate(_time(n, sr), hold=hold, attack=0.0005, release=0.06)


def synth(freq: float, n: int, sr: int, *, hold: float, rng: np.random.Generator) -> np.ndarray:
    """Analogue-style lead: two detuned sawtooths through a low-pass filter that closes."""
    t = _time(n, sr)
    saw = np.zeros(n)
    for detune in (-0.006, 0.006):
        saw += 2.0 * ((freq * (1.0 + detune) * t + rng.random()) % 1.0) - 1.0
    cutoff = min(0.45 * sr, freq * 8.0)
    sos = signal.butter(2, cutoff, btype="low", fs=sr, output="sos")
    out = signal.sosfilt(sos, saw)
    return 0.5 * out * _gate(t, hold=hold, attack=0.008, release=0.05)


def sine_bass(freq: float, n: int, sr: int, *, hold: float, rng: np.random.Generator) -> np.ndarray:
    """Plain bass line voice (part of a genre's backing, not an instrument tag)."""
    t = _time(n, sr)
    out = np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(4 * np.pi * freq * t)
    return out * _gate(t, hold=hold, attack=0.01, release=0.08) * np.exp(-1.5 * t)


def sine_pad(freq: float, n: int, sr: int, *, hold: float, rng: np.random.Generator) -> np.ndarray:
    """Soft sustained drone for backings (no harmonics, so it never sounds like a tagged voice)."""
    t = _time(n, sr)
    return np.sin(2 * np.pi * freq * t + rng.random() * 6) * _gate(
        t, hold=hold, attack=0.4, release=0.5
    )


Voice = Callable[..., np.ndarray]

INSTRUMENT_VOICES: dict[str, Voice] = {
    "piano": piano,
    "strings": strings,
    "guitar": guitar,
    "synth": synth,
}


def kick(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Bass drum: a sine whose pitch falls from ~150 Hz to ~50 Hz, with a click."""
    t = _time(int(0.35 * sr), sr)
    base = 45.0 + 10.0 * rng.random()
    inst = base + 110.0 * np.exp(-t / 0.035)
    out = np.sin(2 * np.pi * np.cumsum(inst) / sr) * np.exp(-t / 0.11)
    out[: int(0.002 * sr)] += 0.5
    return out


def snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Snare: band-passed noise (the wires) over a short ~190 Hz membrane tone."""
    t = _time(int(0.25 * sr), sr)
    sos = signal.butter(2, [1200.0, 6500.0], btype="band", fs=sr, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t / 0.06)
    tone = np.sin(2 * np.pi * (180.0 + 20.0 * rng.random()) * t) * np.exp(-t / 0.05)
    return 1.6 * noise + 0.6 * tone


def hihat(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Closed hi-hat: very short high-passed noise."""
    t = _time(int(0.08 * sr), sr)
    sos = signal.butter(4, 7000.0, btype="high", fs=sr, output="sos")
    return 1.2 * signal.sosfilt(sos, rng.standard_normal(t.size)) * np.exp(-t / 0.015)


def ride(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Ride cymbal: inharmonic square-wave cluster, high-passed, with a longer ring."""
    t = _time(int(0.4 * sr), sr)
    cluster = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in (2960.0, 3720.0, 4870.0, 5430.0))
    sos = signal.butter(2, 5000.0, btype="high", fs=sr, output="sos")
    return 0.5 * signal.sosfilt(sos, cluster) * np.exp(-t / 0.12)


DRUM_SOUNDS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "kick": kick,
    "snare": snare,
    "hat": hihat,
    "ride": ride,
}
