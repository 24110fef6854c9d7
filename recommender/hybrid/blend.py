"""The blend: per-user standardised CF, mapped-content and tag-profile scores, mixed per item
and per user.

Each source lives on its own scale, so each is standardised per user (z-score over
all items) before mixing. Per item, CF gets weight w = n / (n + k) (n listeners),
content the rest; per user, the personal score gets c = a / (a + user_k) (a items
played) and a popularity-and-tags prior the rest. Everything is whole-matrix numpy:
one user or a thousand, no Python loops, and row by row, so a user's scores do not
depend on the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.coldstart.weights import cf_weight
from recommender.core.rowdot import row_mean_std
from recommender.hybrid.configs import BlendConfig

SOURCES = ("cf", "content", "hybrid")


def standardize_rows(scores: np.ndarray) -> np.ndarray:
    """z-score each row; a constant row becomes zeros."""
    scores = np.asarray(scores, dtype=np.float32)
    mean, std = row_mean_std(scores)
    std[std == 0] = 1.0
    return (scores - mean) / std


@dataclass(frozen=True)
class ItemPriors:
    """The per-item vectors every user's blend shares, computed once per model."""

    cold: np.ndarray  # (n_items,) bool: never played in training
    cold_items: np.ndarray  # their indices, ascending (indexing with them beats the mask)
    cf_weight: np.ndarray  # (n_items,) w = n / (n + k)
    content_weight: np.ndarray  # (n_items,) 1 - w
    attention: np.ndarray  # (n_items,) the attention prior, standardised over all items
    cold_attention: np.ndarray  # (n_items,) the same, standardised over the unplayed items
    popularity: np.ndarray  # (n_items,) log(1 + listeners), standardised


def item_priors(
    play_counts: np.ndarray, attention: np.ndarray, log_popularity: np.ndarray, *, k: float
) -> ItemPriors:
    w = cf_weight(play_counts, k=k)
    cold = np.asarray(play_counts) == 0
    return ItemPriors(
        cold=cold,
        cold_items=np.flatnonzero(cold),
        cf_weight=w,
        content_weight=1.0 - w,
        attention=standardize_rows(attention[None, :])[0],
        cold_attention=cold_standardized(attention, play_counts),
        popularity=standardize_rows(log_popularity[None, :])[0],
    )


def content_scores(
    z_mapped: np.ndarray | None,
    z_match: np.ndarray,
    *,
    content_mix: float,
    attention_weight: float,
    priors: ItemPriors,
) -> np.ndarray:
    """Content-only score from the standardised mapped score and profile match, plus the
    standardised attention prior."""
    if z_mapped is None or content_mix <= 0:
        out = z_match.copy()
    elif content_mix >= 1:
        out = z_mapped.copy()
    else:
        out = content_mix * z_mapped + (1.0 - content_mix) * z_match
    if attention_weight:
        out += attention_weight * priors.attention[None, :]
    return out


def cold_standardized(attention: np.ndarray, play_counts: np.ndarray) -> np.ndarray:
    """The attention prior standardised over the unplayed items only (zeros when they all tie).

    Among cold items, how many people tagged one is a strong signal (HetRec); but
    standardised over all items it would bury brand-new tracks nobody tagged yet
    (the demo) under every played one.
    """
    cold = np.asarray(play_counts) == 0
    if cold.sum() < 2:
        return np.zeros(len(attention), dtype=np.float32)
    values = attention[cold]
    std = values.std()
    if std == 0:
        return np.zeros(len(attention), dtype=np.float32)
    return ((attention - values.mean()) / std).astype(np.float32)


def blend_scores(
    cf: np.ndarray,
    mapped: np.ndarray | None,
    z_match: np.ndarray,
    content: np.ndarray,
    activity: np.ndarray,
    *,
    params: BlendConfig,
    priors: ItemPriors,
) -> np.ndarray:
    """The hybrid score, float32 (users, items), before the cold-item cap.

    Per item, w = n / (n + k) of the CF score (z-scored per user) and 1 - w of a content
    part: the mapped score standardised with the CF row's own mean and spread (it
    predicts CF scores, so it shares their scale: a cold item needs a CF-sized score to
    compete), plus `hybrid_match` x the standardised profile match, plus
    `hybrid_attention` x the attention prior standardised over the unplayed items.
    Never-played items are ordered by `content` (the content component's score) instead,
    rescaled onto the blend's spread of those items: so the hybrid ranks cold items
    exactly as the content model does, wherever it places them among warm ones.
    Per user, c = a / (a + user_k) of that personal score (a: items the user played in
    training) and 1 - c of a prior, the standardised log popularity plus `content`: a
    user with no history gets what popularity and their tags give.
    """
    # In place, one temporary at a time: the same float32 operations as the formula above
    # (so the same bits), in half the passes over memory.
    cf = np.asarray(cf, dtype=np.float32)
    mean, std = row_mean_std(cf)
    std[std == 0] = 1.0
    part = np.multiply(z_match, np.float32(params.hybrid_match), dtype=np.float32)
    if mapped is not None:
        mapped_z = np.subtract(mapped, mean, dtype=np.float32)
        mapped_z /= std
        part += mapped_z
    if params.hybrid_attention:
        part += params.hybrid_attention * priors.cold_attention[None, :]
    cold = priors.cold_items
    if len(cold) > 1:
        part[:, cold] = _rescaled(content[:, cold], like=part[:, cold])
    personal = np.subtract(cf, mean, dtype=np.float32)
    personal /= std
    personal *= priors.cf_weight[None, :]
    part *= priors.content_weight[None, :]
    personal += part
    if params.user_k <= 0:
        return personal
    activity = np.asarray(activity, np.float32)[:, None]
    trust = activity / (activity + params.user_k)
    prior = priors.popularity[None, :] + content
    prior *= 1.0 - trust
    personal *= trust
    personal += prior
    return personal


def _rescaled(values: np.ndarray, *, like: np.ndarray) -> np.ndarray:
    """`values` per row shifted and scaled (positively) to the mean and spread of `like`."""
    center, spread = row_mean_std(values)
    spread[spread == 0] = 1.0
    like_center, like_spread = row_mean_std(like)
    return (values - center) / spread * np.maximum(like_spread, 1e-6) + like_center


def cap_cold_items(scores: np.ndarray, cold: np.ndarray, *, slots: int) -> np.ndarray:
    """Keep each row's best `slots` never-played items in place; push the others below every
    played item. An exposure budget: the demo's held-out plays can never reward a new track,
    and without a cap cold tracks took 37% of top-10 slots there (validation NDCG 0.20 vs
    ALS 0.34); with two slots they still reach matching listeners. `cold`: the indices of
    the never-played items."""
    if slots < 0 or len(cold) <= slots:
        return scores
    out = np.array(scores, dtype=np.float32, copy=True)
    block = out[:, cold]
    floor = np.min(out, axis=1, keepdims=True) - (np.ptp(out, axis=1, keepdims=True) + 1.0)
    if slots == 0:
        out[:, cold] = block + floor - block.max(axis=1, keepdims=True)
        return out
    kth = -np.partition(-block, slots - 1, axis=1)[:, slots - 1 : slots]
    demoted = block < kth
    out[:, cold] = np.where(demoted, block - block.max(axis=1, keepdims=True) + floor, block)
    return out


def sources_for(play_counts: np.ndarray, *, k: float) -> np.ndarray:
    """Label each item by what dominates its score: "cf" (w >= 0.75), "content" (w <= 0.25),
    else "hybrid"."""
    w = cf_weight(play_counts, k=k)
    labels = np.full(len(w), "hybrid", dtype=object)
    labels[w >= 0.75] = "cf"
    labels[w <= 0.25] = "content"
    return labels
