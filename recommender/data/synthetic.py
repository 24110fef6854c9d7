"""A small synthetic Dataset with known structure, for tests and benchmarks of the evaluation.

Users and items belong to latent genres; users mostly play (and tag) items of
their genre, and each genre has its own tags. So popularity, collaborative and
tag-based models all have a signal to find, and a broken protocol shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender.data.dataset import Dataset, TagEvents
from recommender.data.vocabulary import Vocabulary


def synthetic_dataset(
    *,
    n_users: int = 60,
    n_items: int = 80,
    n_genres: int = 4,
    plays_per_user: int = 12,
    tags_per_genre: int = 3,
    tag_probability: float = 0.3,
    cold_items: int = 0,
    timestamps: bool = True,
    seed: int = 0,
) -> Dataset:
    """Users x items plays with genre structure; `cold_items` extra items nobody played."""
    rng = np.random.default_rng(seed)
    user_genre = rng.integers(n_genres, size=n_users)
    item_genre = np.arange(n_items) % n_genres
    popularity = rng.zipf(1.6, size=n_items).clip(max=50).astype(np.float64)
    rows, cols = [], []
    for user in range(n_users):
        weights = popularity * np.where(item_genre == user_genre[user], 8.0, 1.0)
        count = min(plays_per_user, n_items)
        chosen = rng.choice(n_items, size=count, replace=False, p=weights / weights.sum())
        rows.extend([user] * count)
        cols.extend(chosen.tolist())
    rows_a, cols_a = np.array(rows), np.array(cols)
    total_items = n_items + cold_items
    counts = rng.integers(1, 30, size=len(rows_a)).astype(np.float32)
    plays = sp.csr_matrix((counts, (rows_a, cols_a)), shape=(n_users, total_items))
    last_played = None
    if timestamps:
        stamps = 1_600_000_000 + rng.integers(0, 10_000_000, size=len(rows_a)).astype(np.float64)
        last_played = sp.csr_matrix((stamps, (rows_a, cols_a)), shape=(n_users, total_items))

    n_tags = n_genres * tags_per_genre
    tag_user, tag_item, tag_tag = [], [], []
    for user, item in zip(rows_a, cols_a, strict=True):
        if rng.random() < tag_probability:
            genre = item_genre[item]
            tag_user.append(user)
            tag_item.append(item)
            tag_tag.append(genre * tags_per_genre + int(rng.integers(tags_per_genre)))
    cold_genre = np.arange(cold_items) % n_genres
    predicted = np.zeros((total_items, n_tags), dtype=np.float32)
    for item, genre in enumerate(np.concatenate([item_genre, cold_genre])):
        predicted[item, genre * tags_per_genre : (genre + 1) * tags_per_genre] = 0.8
    predicted += rng.random(predicted.shape).astype(np.float32) * 0.2
    return Dataset(
        users=Vocabulary.from_ids([f"user-{u:04d}" for u in range(n_users)], kind="user"),
        items=Vocabulary.from_ids([f"track-{i:04d}" for i in range(total_items)], kind="track"),
        tags=Vocabulary.from_ids([f"tag-{t:02d}" for t in range(n_tags)], kind="tag"),
        plays=plays,
        tag_events=TagEvents(
            np.array(tag_user, dtype=np.int32),
            np.array(tag_item, dtype=np.int32),
            np.array(tag_tag, dtype=np.int32),
        ),
        predicted_tags=sp.csr_matrix(predicted),
        predicted_model_version="synthetic",
        last_played=last_played,
        item_meta=pd.DataFrame(
            {"title": [f"Track {i}" for i in range(total_items)], "artist": None, "has_audio": True}
        ),
    )
