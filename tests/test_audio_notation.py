"""Scores as input: MIDI and MusicXML rendered to audio (FluidSynth, or the built-in fallback).

Every score is written here, in the test, with mido or as MusicXML text, so each right
answer (length from the tempo map, pitch of a note) follows from what was written.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path

import mido
import numpy as np
import pytest
from sqlalchemy import insert

from recommender.audio import notation
from recommender.audio.config import FeatureConfig
from recommender.audio.decode import load_audio
from recommender.audio.notation import (
    FALLBACK_NOTICE,
    FluidSynth,
    SynthesizerFallbackWarning,
    render_score,
)
from recommender.errors import AudioDecodeError, RecsysWarning
from recommender.storage.schema import Track
from tests.audio_signals import SR
from tests.conftest import require_fluidsynth, run_cli

# the built-in synthesizer's notice is tested once, below, not repeated in every test
pytestmark = pytest.mark.filterwarnings(
    "ignore::recommender.audio.notation.SynthesizerFallbackWarning"
)
SYNTHS = ["fluidsynth", "builtin"]
A4, C5 = 69, 72
HZ = {A4: 440.0, C5: 440.0 * 2 ** (3 / 12)}


def write_midi(path: Path, notes, *, tempos=((0, 120),), ticks: int = 480, program: int = 0):
    """A type-1 Standard MIDI File: `notes` are (pitch, start beat, beats); `tempos` are
    (beat, bpm) changes in a tempo track, as notation programs write them."""
    conductor = [
        (int(beat * ticks), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
        for beat, bpm in tempos
    ]
    events = [(0, mido.Message("program_change", program=program))]
    for pitch, start, beats in notes:
        events.append((int(start * ticks), mido.Message("note_on", note=pitch, velocity=90)))
        events.append((int((start + beats) * ticks), mido.Message("note_off", note=pitch)))
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks)
    for timed in (conductor, sorted(events, key=lambda e: (e[0], e[1].type != "note_off"))):
        track = mido.MidiTrack()
        now = 0
        for tick, message in timed:
            track.append(message.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    midi.save(path)
    return path


def musicxml(measures, *, bpm: float) -> str:
    """A one-part score-partwise document in 4/4; `measures` hold (pitch like "A4" or None
    for a rest, quarters); the tempo is a metronome mark with its <sound tempo>."""
    body = []
    for number, notes in enumerate(measures, start=1):
        xml = [f'<measure number="{number}">']
        if number == 1:
            xml.append(
                "<attributes><divisions>2</divisions><time><beats>4</beats>"
                "<beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef>"
                "</attributes>"
                '<direction placement="above"><direction-type><metronome>'
                f"<beat-unit>quarter</beat-unit><per-minute>{bpm:g}</per-minute></metronome>"
                f'</direction-type><sound tempo="{bpm:g}"/></direction>'
            )
        for pitch, quarters in notes:
            what = (
                "<rest/>"
                if pitch is None
                else f"<pitch><step>{pitch[0]}</step><octave>{pitch[1:]}</octave></pitch>"
            )
            xml.append(f"<note>{what}<duration>{int(quarters * 2)}</duration></note>")
        body.append("".join(xml) + "</measure>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<score-partwise version="3.1"><part-list><score-part id="P1">'
        "<part-name>Piano</part-name></score-part></part-list>"
        f'<part id="P1">{"".join(body)}</part></score-partwise>\n'
    )


def write_mxl(path: Path, text: str) -> Path:
    """Compressed MusicXML: a zip with the score and META-INF/container.xml naming it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0" encoding="UTF-8"?><container><rootfiles>'
            '<rootfile full-path="score.musicxml"/></rootfiles></container>',
        )
        archive.writestr("score.musicxml", text)
    return path


# 6 quarters at 90 bpm: 4.0 s of notes, then a half rest that is not rendered
SCORE_90 = musicxml([[("A4", 4)], [("A4", 2), (None, 2)]], bpm=90)


def peak_hz(y: np.ndarray) -> tuple[float, float]:
    """Frequency of the strongest bin of the whole signal, and the bin width."""
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.argmax(spectrum)) * SR / y.size, SR / y.size


def rms(y: np.ndarray, start: float, stop: float) -> float:
    return float(np.sqrt(np.mean(y[int(start * SR) : int(stop * SR)] ** 2)))


@pytest.fixture(params=SYNTHS)
def synth(request, monkeypatch) -> str:
    """Each synthesizer by itself: FluidSynth (required under CI), and the built-in one as
    it runs when FluidSynth is missing."""
    if request.param == "fluidsynth":
        require_fluidsynth()
    else:
        monkeypatch.setattr(notation, "find_fluidsynth", lambda: None)
    return request.param


@pytest.mark.parametrize("kind", ["mid", "musicxml"])
def test_a4_renders_with_its_peak_at_440_hz(synth, kind, tmp_path):
    if kind == "mid":
        path = write_midi(tmp_path / "a4.mid", [(A4, 0, 2)])  # one second at 120 bpm
    else:
        path = tmp_path / "a4.musicxml"
        path.write_text(musicxml([[("A4", 4)]], bpm=120))  # two seconds
    y = render_score(path, sr=SR, synthesizer=synth)
    assert y.dtype == np.float32 and y.ndim == 1
    assert y.size == (SR if kind == "mid" else 2 * SR)
    hz, bin_hz = peak_hz(y)
    assert abs(hz - 440.0) <= bin_hz, hz


def test_length_and_timing_follow_the_tempo_map(synth, tmp_path):
    # A4 for 2 beats at 120 bpm (0-1 s), then 60 bpm: a 1-beat rest (1-2 s), C5 for 2 (2-4 s)
    path = write_midi(tmp_path / "tempo.mid", [(A4, 0, 2), (C5, 3, 2)], tempos=[(0, 120), (2, 60)])
    y = load_audio(path, sr=SR, duration=None)
    assert abs(y.size - 4.0 * SR) <= 1  # within a sample, far inside a frame (512)
    first, bin_hz = peak_hz(y[: SR - 512])
    assert abs(first - HZ[A4]) <= bin_hz
    last, bin_hz = peak_hz(y[2 * SR :])
    assert abs(last - HZ[C5]) <= bin_hz
    # the rest is silent (after the A4's release) and C5 starts on its beat
    assert rms(y, 1.6, 1.95) < 0.01 * rms(y, 2.05, 2.5)
    assert rms(y, 1.9, 1.99) < 0.1 * rms(y, 2.0, 2.09)


def test_musicxml_plain_xml_and_compressed_mxl_render_the_same(synth, tmp_path):
    plain = tmp_path / "score.musicxml"
    plain.write_text(SCORE_90)
    other = tmp_path / "score.xml"
    other.write_text(SCORE_90)
    packed = write_mxl(tmp_path / "score.mxl", SCORE_90)
    y = load_audio(plain, sr=SR, duration=None)
    assert abs(y.size - 4.0 * SR) <= 1  # 6 quarters at 90 bpm; the final rest is not sounded
    assert abs(peak_hz(y)[0] - 440.0) <= peak_hz(y)[1]
    for path in (other, packed):
        np.testing.assert_array_equal(load_audio(path, sr=SR, duration=None), y)


def test_a_window_is_that_slice_of_the_whole_score(synth, tmp_path):
    notes = [(pitch, beat, 1) for beat, pitch in enumerate([60, 64, 67, 72] * 3)]  # 6 s at 120
    path = write_midi(tmp_path / "arpeggio.mid", notes)
    whole = load_audio(path, sr=SR, duration=None)
    assert whole.size == 6 * SR
    window = load_audio(path, sr=SR, offset=1.0, duration=2.0)  # the render is cut at 3.5 s
    assert window.size == 2 * SR
    np.testing.assert_allclose(window, whole[SR : 3 * SR], atol=1e-6)
    assert load_audio(path, sr=SR, offset=5.0, duration=30.0).size == SR  # up to the end
    with pytest.raises(AudioDecodeError, match="no audio samples after offset 7 s"):
        load_audio(path, sr=SR, offset=7.0)


def test_other_sample_rates(synth, tmp_path):
    path = write_midi(tmp_path / "a4.mid", [(A4, 0, 2)])
    for sr in (16000, 4000):  # 4000 Hz is below fluidsynth's range: rendered, then resampled
        y = load_audio(path, sr=sr)
        assert y.size == sr
        spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
        assert abs(np.argmax(spectrum) * sr / y.size - 440.0) <= sr / y.size


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("text.mid", b"this is not a MIDI file at all\n", "cannot read MIDI"),
        ("truncated.mid", None, "cannot read MIDI"),
        ("silent.midi", "no-notes", "no notes"),
        ("broken.musicxml", SCORE_90[: len(SCORE_90) // 2].encode(), "cannot read MusicXML"),
        ("page.xml", b"<html><body>not a score</body></html>", "cannot read MusicXML"),
        ("fake.mxl", b"PK\x03\x04 not really a zip", "cannot read MusicXML"),
        ("rests.musicxml", musicxml([[(None, 4)]], bpm=90).encode(), "no notes"),
    ],
)
def test_broken_scores_raise_one_clear_error(tmp_path, name, content, needle):
    path = tmp_path / name
    if content is None:  # a real MIDI file cut in the middle of its note track
        whole = write_midi(tmp_path / "whole.mid", [(A4, 0, 2), (C5, 2, 2)]).read_bytes()
        path.write_bytes(whole[: len(whole) - 9])
    elif content == "no-notes":
        write_midi(path, [])
    else:
        path.write_bytes(content)
    with pytest.raises(AudioDecodeError) as caught:
        load_audio(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and needle in message, message
    assert "\n" not in message


def test_a_failing_fluidsynth_is_one_clear_error(tmp_path, monkeypatch):
    fake = tmp_path / "fluidsynth"
    fake.write_text("#!/bin/sh\necho 'fluidsynth: error: out of voices' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(notation, "find_fluidsynth", lambda: FluidSynth(str(fake), "gm.sf2"))
    path = write_midi(tmp_path / "a4.mid", [(A4, 0, 2)])
    with pytest.raises(AudioDecodeError, match="fluidsynth could not render") as caught:
        load_audio(path)
    assert str(caught.value).startswith(f"{path}: ") and "out of voices" in str(caught.value)


def test_a_bad_sound_font_is_named(tmp_path, monkeypatch):
    fluid = require_fluidsynth()
    junk = tmp_path / "junk.sf2"
    junk.write_bytes(b"not a sound font" * 64)
    monkeypatch.setattr(notation, "find_fluidsynth", lambda: FluidSynth(fluid.program, str(junk)))
    path = write_midi(tmp_path / "a4.mid", [(A4, 0, 2)])
    with pytest.raises(AudioDecodeError, match="fluidsynth could not render") as caught:
        load_audio(path)  # though fluidsynth itself exits 0, with its default sound font
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "error" in message and str(junk) in message


def test_the_fallback_is_announced_and_forcing_a_missing_fluidsynth_fails(tmp_path, monkeypatch):
    path = write_midi(tmp_path / "a4.mid", [(A4, 0, 2)])
    monkeypatch.setattr(notation, "find_fluidsynth", lambda: None)
    with pytest.warns(SynthesizerFallbackWarning) as caught:
        load_audio(path)
    assert [str(w.message) for w in caught] == [FALLBACK_NOTICE]
    assert issubclass(SynthesizerFallbackWarning, RecsysWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # forcing the built-in synthesizer is no fallback
        render_score(path, synthesizer="builtin")
    with pytest.raises(AudioDecodeError, match="fluidsynth or a General MIDI sound font is not"):
        render_score(path, synthesizer="fluidsynth")


def test_percussion_only_needs_fluidsynth(tmp_path, monkeypatch):
    path = tmp_path / "drums.mid"
    midi = mido.MidiFile()
    track = mido.MidiTrack(
        [
            mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
            mido.Message("note_off", channel=9, note=36, time=480),
        ]
    )
    midi.tracks.append(track)
    midi.save(path)
    with pytest.raises(AudioDecodeError, match="only percussion"):
        render_score(path, synthesizer="builtin")
    if notation.find_fluidsynth() is not None:  # the drum kit of the GM sound font plays it
        assert np.abs(render_score(path, synthesizer="fluidsynth")).max() > 0.01


# ---- the catalogue scan and the CLI --------------------------------------------------------
CONFIG = FeatureConfig(duration=3.0, frame_sample=16)


def _score_catalogue(engine, folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    scores = {
        "midi": write_midi(folder / "tune.mid", [(A4, 0, 2), (C5, 2, 4)]),
        "musicxml": folder / "tune.musicxml",
        "mxl": write_mxl(folder / "tune.mxl", SCORE_90),
    }
    scores["musicxml"].write_text(SCORE_90)
    broken = folder / "broken.mid"
    broken.write_bytes(b"MThd but nothing after")
    rows = [{"external_id": k, "audio_path": str(p)} for k, p in scores.items()]
    rows.append({"external_id": "broken", "audio_path": str(broken)})
    with engine.begin() as conn:
        conn.execute(insert(Track), rows)
    return scores


def test_the_scan_featurises_scores_like_audio(engine, tmp_path):
    from etl.audio_scan import UNDECODABLE, scan_catalogue
    from recommender.audio.song_vector import extract_file
    from recommender.services.audio_features import load_features

    scores = _score_catalogue(engine, tmp_path / "scores")
    summary = scan_catalogue(engine, workers=1, config=CONFIG, base_dir=tmp_path)
    assert (summary.tracks, summary.extracted, summary.failed) == (4, 3, 1)
    [failure] = summary.failures
    assert failure["track"] == "broken" and failure["reason"] == UNDECODABLE
    assert "broken.mid" in failure["message"] and "cannot read MIDI" in failure["message"]
    assert abs(summary.audio_seconds - (3.0 + 3.0 + 3.0)) < 1e-3  # each cut to the 3 s window
    stored = load_features(engine, CONFIG)
    assert sorted(stored.external_ids) == ["midi", "musicxml", "mxl"]
    for name, path in scores.items():
        vector = stored.summaries[stored.external_ids.index(name)]
        np.testing.assert_allclose(vector, extract_file(path, CONFIG).summary, rtol=1e-6)
    again = scan_catalogue(engine, workers=1, config=CONFIG, base_dir=tmp_path)
    assert (again.extracted, again.skipped) == (0, 3)


def test_a_scan_in_many_processes_warns_once(sqlite_url, tmp_path, monkeypatch):
    from etl.audio_scan import scan_catalogue
    from recommender.storage.engine import make_engine

    monkeypatch.setattr(notation, "find_fluidsynth", lambda: None)  # forked workers inherit it
    engine = make_engine(sqlite_url)
    _score_catalogue(engine, tmp_path / "scores")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = scan_catalogue(engine, workers=2, config=CONFIG, base_dir=tmp_path)
    assert summary.extracted == 3 and summary.notices == [FALLBACK_NOTICE]
    ours = [w for w in caught if issubclass(w.category, RecsysWarning)]
    assert [str(w.message) for w in ours] == [FALLBACK_NOTICE]
    engine.dispose()


@pytest.fixture
def trained_env(tmp_path, sqlite_url):
    """A small tagger trained on the synthetic catalogue (as tests/test_cli_tag.py does)."""
    from etl.audio_scan import scan_catalogue
    from recommender.services.tagger_training import train_tagger
    from recommender.storage.engine import make_engine
    from tests.audio_signals import make_catalogue

    engine = make_engine(sqlite_url)
    make_catalogue(engine, tmp_path / "audio", tracks=24)
    scan_catalogue(engine, workers=1)
    train_tagger(engine, tmp_path / "home" / "models", kind="linear")
    engine.dispose()
    env = dict(os.environ, RECSYS_HOME=str(tmp_path / "home"), RECSYS_DATABASE_URL=sqlite_url)
    env.pop("RECSYS_DEBUG", None)
    return env


def _not_novelty(stderr: str) -> list[str]:
    """stderr lines other than the tagger's out-of-distribution warnings: a tagger trained
    on tones and noise rightly finds a rendered piano unlike its audio (tests of that
    warning are in test_tagging_novelty)."""
    return [line for line in stderr.strip().splitlines() if "is unlike the audio" not in line]


def test_recsys_tag_and_etl_audio_take_scores(trained_env, sqlite_url, tmp_path):
    from recommender.storage.engine import make_engine

    mid = write_midi(tmp_path / "tune.mid", [(A4, 0, 2), (C5, 2, 4)])
    xml = tmp_path / "tune.musicxml"
    xml.write_text(SCORE_90)
    tagged = run_cli(["tag", str(mid), str(xml), "--top", "3", "--json"], trained_env)
    assert tagged.returncode == 0, tagged.stderr
    if notation.find_fluidsynth() is not None:  # (the tests above fail under CI without it)
        assert _not_novelty(tagged.stderr) == []  # FluidSynth: no notice
    results = json.loads(tagged.stdout)["results"]
    assert [r["file"] for r in results] == [str(mid), str(xml)]
    for result in results:
        assert {t["tag"] for t in result["tags"]} == {"tonal", "noisy", "percussive"}

    # without fluidsynth on the PATH: the built-in synthesizer, and one line saying so
    bare = dict(trained_env, PATH=str(tmp_path / "no-programs"))
    # relative names: a table title wraps to the table's width, and a long temporary path
    # (pytest-xdist adds popen-gwN/) would split a file name across two lines
    table = run_cli(["tag", mid.name, xml.name], bare, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert _not_novelty(table.stderr) == [f"warning: {FALLBACK_NOTICE}"]
    assert "tune.mid" in table.stdout and "tune.musicxml" in table.stdout
    assert table.stdout.count("tonal") == 2  # one table of tags per file
    engine = make_engine(sqlite_url)
    _score_catalogue(engine, tmp_path / "scores")
    engine.dispose()
    scan = run_cli(["--quiet", "etl", "audio", "--workers", "2", "--json"], bare)
    assert scan.returncode == 0, scan.stderr
    assert scan.stderr.strip().splitlines() == [f"warning: {FALLBACK_NOTICE}"]
    report = json.loads(scan.stdout)
    assert (report["extracted"], report["failed"]) == (3, 1)
    assert report["notices"] == [FALLBACK_NOTICE]
