"""The artist's view: which users a track should reach, even one nobody has played.

Every user's score for one item is the recommend blend read down a column: CF
(user factors . item factors) weighted by the item's listeners, content (user
factors . mapped item factors, and the profile match) for the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.core.topk import top_k
from recommender.hybrid.blend import sources_for, standardize_rows
from recommender.hybrid.results import AudienceMember
from recommender.hybrid.scorer import HybridScorer


def audience_scores(scorer: HybridScorer, item: int, *, n_users: int) -> np.ndarray:
    """float32 (n_users,): how well `item` fits each user, on the blend's scale."""
    sc = scorer
    count = float(sc.play_counts[item])
    w = count / (count + sc.blend.k) if sc.blend.k > 0 else float(count > 0)
    vector = np.zeros(sc.space.item_vectors.shape[1], dtype=np.float32)
    row = slice(sc.space.item_vectors.indptr[item], sc.space.item_vectors.indptr[item + 1])
    vector[sc.space.item_vectors.indices[row]] = sc.space.item_vectors.data[row]
    match = sc.space.user_profiles @ vector  # one pass over the profiles, no sparse result
    content = standardize_rows(match[None, :])[0]
    if sc.user_factors is not None and sc.mapped_t is not None:
        mapped = standardize_rows((sc.user_factors @ sc.mapped_t[:, item])[None, :])[0]
        content = sc.blend.content_mix * mapped + (1 - sc.blend.content_mix) * content
    if w <= 0:
        return content
    if sc.user_factors is not None and sc.item_factors_t is not None:
        cf_scores = sc.user_factors @ sc.item_factors_t[:, item]
    else:
        cf_scores = np.asarray(sc.cf.score(np.arange(n_users))[:, item])
    return w * standardize_rows(cf_scores[None, :])[0] + (1 - w) * content


def audience_members(
    scorer: HybridScorer,
    scores: np.ndarray,
    item: int,
    *,
    plays: sp.csr_matrix,
    user_ids: Any,
    tag_ids: Any,
    n: int,
) -> list[AudienceMember]:
    """The n best users who have not played `item`, with the profile tags they share with it."""
    listeners = np.searchsorted(plays.indptr, np.flatnonzero(plays.indices == item), "right") - 1
    played = sp.csr_matrix(
        (np.ones(len(listeners)), (np.zeros(len(listeners)), listeners)), shape=(1, len(scores))
    )
    top = top_k(np.asarray(scores, dtype=np.float32)[None, :], n, exclude=played)
    order = top.ids[0][top.ids[0] >= 0]
    source = str(sources_for(scorer.play_counts[item : item + 1], k=scorer.blend.k)[0])
    item_tags = scorer.space.item_vectors[item].indices
    profiles = scorer.space.user_profiles
    members = []
    for rank, u in enumerate(order):
        row = slice(profiles.indptr[u], profiles.indptr[u + 1])
        shared = np.isin(profiles.indices[row], item_tags)
        tags, weights = profiles.indices[row][shared], profiles.data[row][shared]
        strongest = tags[np.argsort(-weights, kind="stable")[:3]]
        members.append(
            AudienceMember(
                user_id=str(user_ids[u]),
                score=round(float(top.scores[0][rank]), 4),
                source=source,
                matched_tags=[str(tag_ids[t]) for t in strongest],
            )
        )
    return members
