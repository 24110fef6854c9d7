"""What the recommender keeps about items besides scores and tags (`tagfilter`): their names."""

from __future__ import annotations

from typing import Any

import numpy as np


def text_column(values: Any, n: int) -> np.ndarray:
    """A unicode array (npz-safe, no pickle) from a column that may hold None/NaN."""
    if values is None:
        return np.full(n, "", dtype=str)
    return np.asarray(["" if v is None or v != v else str(v) for v in values], dtype=str)


def display_name(artist: str, title: str, item_id: str) -> str:
    """How a person reads an item: "artist - title"; one of them when the other is empty or
    the same (HetRec's items are artists: "Billy Ray Cyrus", not "Billy Ray Cyrus - Billy Ray
    Cyrus"); the external id when it has neither, so no list shows a blank name."""
    artist, title = artist.strip(), title.strip()
    if not artist or not title or artist.casefold() == title.casefold():
        return artist or title or item_id
    return f"{artist} - {title}"


def display_names(artists: np.ndarray, titles: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
    """`display_name` of every item, as a unicode array (npz-safe)."""
    names = [
        display_name(a, t, i)
        for a, t, i in zip(artists.tolist(), titles.tolist(), item_ids.tolist(), strict=True)
    ]
    return np.asarray(names, dtype=str)
