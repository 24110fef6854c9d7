import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.normalize import normalize_tag, normalize_tags


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Seen   LIVE ", "seen live"),
        ("Rock", "rock"),
        ("hip\thop\n", "hip hop"),
        ("Die  Ärzte", "die ärzte"),
        ("\u00a0jazz\u2003fusion ", "jazz fusion"),  # non-breaking and em spaces are whitespace too
        ("   ", ""),
        ("cafe\u0301", "café"),  # NFC: e + combining accent is é
        ("\uff2a\uff21\uff3a\uff3a", "jazz"),  # NFKC folds full-width "ＪＡＺＺ"
        ("\uff7c\uff9e\uff6c\uff7d\uff9e", "ジャズ"),  # and half-width katakana
        ("\ufb01lm", "film"),  # and ligatures
        ("ja\u200bzz\u00ad", "jazz"),  # zero-width space and soft hyphen are dropped
        ("\u200b\ufeff\u2066\u3164", ""),  # only invisible characters: empty
        ("\U0001f468\u200d\U0001f469", "\U0001f468\u200d\U0001f469"),  # joiner kept inside
        ("\u200drock\u200c", "rock"),  # but not at the edges
    ],
)
def test_normalize_tag(raw, expected):
    assert normalize_tag(raw) == expected


def test_vectorised_normaliser_matches_the_scalar_one():
    values = ["  Seen   LIVE ", "seen live", "Rock", "ROCK ", "Tropicália", "", "a\u00a0 b"]
    column = pa.chunked_array([values[:3], values[3:]])
    assert normalize_tags(column).to_pylist() == [normalize_tag(v) for v in values]


@given(st.text())
def test_normalising_twice_changes_nothing(value):
    once = normalize_tag(value)
    assert normalize_tag(once) == once
