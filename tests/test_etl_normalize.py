import pyarrow as pa
import pytest

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
    ],
)
def test_normalize_tag(raw, expected):
    assert normalize_tag(raw) == expected


def test_vectorised_normaliser_matches_the_scalar_one():
    values = ["  Seen   LIVE ", "seen live", "Rock", "ROCK ", "Tropicália", "", "a\u00a0 b"]
    column = pa.chunked_array([values[:3], values[3:]])
    assert normalize_tags(column).to_pylist() == [normalize_tag(v) for v in values]
