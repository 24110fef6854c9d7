"""The one definition of a tag's spelling, shared by ETL, taggers and queries.

It lives in `recommender` (not `etl`) because queries such as `recsys recommend
--tag "Seen Live"` must spell tags exactly as the loader stored them.
"""

from __future__ import annotations


def normalize_tag(name: str) -> str:
    """Lower case, strip, collapse runs of (Unicode) whitespace: "  Seen   LIVE " -> "seen live"."""
    return " ".join(str(name).lower().split())
