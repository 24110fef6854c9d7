"""Decoding: formats, mono mix-down, resampling, the analysis window, every way a file can fail."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from recommender.audio.decode import load_audio
from recommender.errors import AudioDecodeError, InputError
from tests.audio_signals import SR, sine, write
from tests.conftest import shared_data


@pytest.mark.parametrize(
    "suffix,subtype",
    [(".wav", "PCM_16"), (".flac", "PCM_16"), (".ogg", "VORBIS"), (".au", "PCM_16")],
)
def test_formats_decode_to_mono_float32(tmp_path, suffix, subtype):
    path = write(tmp_path / f"a{suffix}", sine(440, 1.0), subtype=subtype)
    y = load_audio(path, sr=SR)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - SR) < 2048  # Vorbis may pad a little
    assert 0.3 < np.abs(y).max() < 0.6


def test_mp3_decodes_when_libsndfile_supports_it(tmp_path):
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile build has no MP3 support")
    path = tmp_path / "a.mp3"
    sf.write(path, sine(440, 1.0), SR, format="MP3", subtype="MPEG_LAYER_III")
    assert abs(load_audio(path, sr=SR).size - SR) < 4096


def test_stereo_is_mixed_and_resampled(tmp_path):
    left, right = sine(440, 1.0, sr=44100), np.zeros(44100, dtype=np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 44100)
    y = load_audio(path, sr=22050)
    assert abs(y.size - 22050) <= 1
    assert 0.2 < np.abs(y).max() < 0.3  # the mean of a 0.5 sine and silence
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 22050 / y.size - 440) < 2


def test_analysis_window(tmp_path):
    y = np.concatenate([sine(220, 2.0), sine(880, 2.0)])
    path = write(tmp_path / "two.wav", y)
    window = load_audio(path, sr=SR, offset=2.5, duration=1.0)
    assert window.size == SR
    spectrum = np.abs(np.fft.rfft(window))
    assert abs(np.argmax(spectrum) * SR / window.size - 880) < 2


@pytest.mark.parametrize(
    "case,needle",
    [
        ("missing", "no such audio file"),
        ("empty", "empty file"),
        ("text", "cannot decode"),
        ("truncated", "cannot decode"),
        ("zero", "no audio samples"),
        ("silent", "silent"),
        ("past_end", "no audio samples"),
    ],
)
def test_undecodable_files_raise_one_clear_error(tmp_path, case, needle):
    path = tmp_path / f"{case}.wav"
    offset = 0.0
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not audio at all\n")
    elif case == "truncated":
        write(tmp_path / "full.wav", sine(440, 1.0))
        path.write_bytes((tmp_path / "full.wav").read_bytes()[:30])
    elif case == "zero":
        write(path, np.zeros(0, dtype=np.float32))
    elif case == "silent":
        write(path, np.zeros(SR, dtype=np.float32))
    elif case == "past_end":
        write(path, sine(440, 1.0))
        offset = 5.0
    with pytest.raises(AudioDecodeError) as info:
        load_audio(path, sr=SR, offset=offset)
    assert isinstance(info.value, InputError) and info.value.exit_code == 2
    message = str(info.value)
    assert str(path) in message and needle in message and "\n" not in message


@pytest.mark.shared_data
def test_librosa_examples_all_decode_except_the_stubs():
    folder = shared_data("librosa-examples")
    decoded, failed = [], []
    for path in sorted(folder.glob("*.ogg")):
        try:
            y = load_audio(path, sr=SR, duration=5.0)
        except AudioDecodeError as exc:
            failed.append((path.name, str(exc)))
        else:
            decoded.append(path.name)
            assert y.size > SR and np.isfinite(y).all()
    assert [name for name, _ in failed] == ["Karissa_Hobbs_-_Let's_Go_Fishin'.ogg"]
    assert "cannot decode" in failed[0][1]
    assert len(decoded) >= 13
    with pytest.raises(AudioDecodeError, match="cannot decode"):
        load_audio(folder / "Karissa_Hobbs_-_Let's_Go_Fishin'.txt")
