"""The typed configs of the hybrid family: blend, content, hybrid, re-ranker, tag filter."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from recommender.core.configs import Config
from recommender.core.registry import Spec, component_class, names
from recommender.errors import InputError, shown


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
    the popular-tag discount; ridge_alpha: penalty of the content -> CF factors map;
    ood_content_weight: how much the predicted tags of a track whose audio the tagger
    flagged out of its training distribution count (1 = as much as any, 0 = not at all;
    `tags.profiles.raw_item_tags`).

    ood_content_weight = 0.5 is a hedge, not a tuned value: a flagged track still reaches the
    users its tags match, but below an equally matching track whose tags can be trusted.
    Measured on the demo's cold-items split (NDCG@10, seeds 0-2, refit linear tagger): with
    its own audio 0-1 of 150 tracks are flagged and every weight scores 0.604; with half the
    cold test tracks given real non-demo recordings (all flagged, tags meaningless) the
    weights 1, 0.75, 0.5, 0.25, 0 average 0.493, 0.495, 0.482, 0.472, 0.459, and the effect
    changes sign with the seed (0.5 vs 1: +0.005, +0.019, -0.059). That protocol cannot
    reward the discount: every candidate there has
    a listener, so a misfiled track ranked at random still earns hits, while the case the
    discount is for (tags that misdescribe a track, leading the wrong users to it) is not
    in it."""

    applied_weight: float = 0.2
    idf_power: float = 1.0
    ridge_alpha: float = 1.0
    ood_content_weight: float = 0.5


@dataclass(frozen=True)
class TagFilterConfig(Config):
    """When an item carries a tag for `--tag` / `--any-tag` (`hybrid.tagfilter`).

    min_weight: a crowd tag counts when its weight on the item, the tag's assignments
    divided by those of the item's most-assigned tag (1 = the item's top tag), is at
    least this. That is Last.fm's own tag weight (its top tags are scaled so the top one
    is 100; the Million Song Dataset's Last.fm tags keep that scale), so an item's tags
    are weighed against its own main tag. A share of all assignments is not comparable
    across items: it shrinks with how many different tags an item has attracted, and on
    HetRec it drops Tom Waits (jazz) and Sting (jazz), both tagged by many users, from
    `--tag rock --tag jazz` while keeping artists with a handful of assignments.
    0.25 (a quarter of the top tag's votes) keeps genre tags a crowd agrees on and drops
    strays: on HetRec The Prodigy's one "rock" and one "jazz" among 29 "electronic"
    weigh 0.034, while its "dance", "industrial" and "techno" weigh 0.38-0.45.

    min_probability: a predicted (audio) tag counts when its probability reaches the
    tagger's own decision threshold for that tag (chosen for the best F1 on held-out
    tracks, stored in the tagger bundle), or this where the tagger stored none."""

    min_weight: float = 0.25
    min_probability: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_weight", "min_probability"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise InputError(f"tag_filter.{name} must be in (0, 1], got {shown(value)}")


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
    model: str = "als",
    *,
    seed: int = 0,
    reranker: bool = False,
    cf_config: Config | None = None,
    blend: BlendConfig | None = None,
    content: ContentConfig | None = None,
    **cf_params: Any,
) -> Spec:
    """The ranker `recsys train` fits: the hybrid (or the re-ranker over it) on CF model
    `model` with its own parameters `cf_params` (e.g. factors=32), every seed `seed`.
    `cf_config`, `blend` and `content` (the config file's, `services.config_file`) replace
    the defaults they start from; `cf_params` override `cf_config`.

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
    hybrid = HybridConfig(
        cf=Spec(model, (cf_config or cf.Config()).replace(**cf_params)),
        blend=blend or BlendConfig(),
        content=content or ContentConfig(),
    )
    if reranker:
        return Spec("rerank", RerankConfig(hybrid=hybrid).with_seed(seed))
    return Spec("hybrid", hybrid.with_seed(seed))
