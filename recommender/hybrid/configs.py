"""The typed configs of the hybrid family: blend, content, hybrid and re-ranker."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from recommender.core.configs import Config
from recommender.core.registry import Spec, component_class, names
from recommender.errors import InputError


@dataclass(frozen=True)
class BlendConfig(Config):
    """k: listeners at which CF and content weigh equally; content_mix: share of the mapped
    CF-space score inside content (the rest is the profile match); attention: weight of
    the content prior log(1 + users who played or tagged the item), which for a cold item
    is how many people bothered to tag it (tuned for ranking cold items among themselves);
    hybrid_attention: the same prior inside the hybrid blend, standardised over the
    unplayed items only (see `blend.cold_standardized`); hybrid_match: weight of the
    standardised profile match next to the CF-scaled mapped score in the hybrid's content
    part; cold_slots: how many never-played items may rank above the played ones per user
    (the rest drop below them; -1 = no cap); user_k: items played at which a user's
    personal score and the popularity-and-tags prior weigh equally (0 = no prior).

    k, user_k: chosen on validation NDCG@10 (never on test) of random 80/10/10 splits of
    the demo (seed 0) and HetRec (seeds 0, 1, 2), from k in {1, 5, 20, 100, 1000} x user_k
    in {0, 1, 4}, then k in {3, 5, 10} x user_k in {2, 4, 8, 16, 32}: k=10, user_k=8 was
    the best on three of the four and within 0.0003 of the best on the fourth."""

    k: float = 10.0
    content_mix: float = 0.35
    attention: float = 1.5
    hybrid_attention: float = 1.5
    hybrid_match: float = 0.5
    cold_slots: int = 2
    user_k: float = 8.0


@dataclass(frozen=True)
class ContentConfig(Config):
    """applied_weight: tags a user applied vs tags of what they play; idf_power: strength of
    the popular-tag discount; ridge_alpha: penalty of the content -> CF factors map."""

    applied_weight: float = 0.2
    idf_power: float = 1.0
    ridge_alpha: float = 1.0


def _default_cf() -> Spec:
    from recommender.cf.als import ALSConfig

    return Spec("als", ALSConfig())


@dataclass(frozen=True)
class HybridConfig(Config):
    """The CF model (any registered CF component and its config), the blend and the content
    side. The CF model's seed is the hybrid's seed."""

    cf: Spec = field(default_factory=_default_cf)
    blend: BlendConfig = field(default_factory=BlendConfig)
    content: ContentConfig = field(default_factory=ContentConfig)


@dataclass(frozen=True)
class RerankConfig(Config):
    """LightGBM LambdaRank over the blend's top `depth` unplayed items; trained on an inner
    90/10 split of the training data (at most `max_train_users` users), seeded."""

    hybrid: HybridConfig = field(default_factory=HybridConfig)
    depth: int = 50
    n_estimators: int = 150
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 20
    max_train_users: int = 3000
    seed: int = 0


def ranker_spec(
    model: str = "als", *, seed: int = 0, reranker: bool = False, **cf_params: Any
) -> Spec:
    """The ranker `recsys train` fits: the hybrid (or the re-ranker over it) on CF model
    `model` with its own parameters `cf_params` (e.g. factors=32), every seed `seed`.

    A parameter the CF model does not have is an InputError naming the models that have it.
    """
    cf = component_class(model, "cf")
    for name in cf_params:
        if name not in {f.name for f in fields(cf.Config)}:
            having = [
                m
                for m in names("cf")
                if name in {f.name for f in fields(component_class(m).Config)}
            ]
            raise InputError(
                f"--{name} applies to {', '.join(having) or 'no CF model'}, not {model}"
            )
    hybrid = HybridConfig(cf=Spec.of(model, **cf_params))
    if reranker:
        return Spec("rerank", RerankConfig(hybrid=hybrid).with_seed(seed))
    return Spec("hybrid", hybrid.with_seed(seed))
