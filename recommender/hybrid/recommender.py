"""`HybridRecommender`: the servable model behind `recsys recommend / similar / audience /
user-tags`, the batch job and the evaluation of what is served.

It holds the vocabularies, the catalogue, each user's plays and the ranking component
(the "hybrid" blend, or the "rerank" re-ranker when it won validation). Every list
for a trained user, one user or a batch of them, comes from `rank`; every list for a
user folded in from their history comes from `rank_folded`; both end in the one top-k.

    rec = HybridRecommender.load(bundle_dir)
    rec.recommend("user-42", n=10, tags=["jazz"], explain=True)
    rec.recommend("user-42", tags=["rock"], any_tags=["piano", "organ"])  # rock, piano or organ

An item carries a tag when the tag's weight on it passes the bar of `config.tag_filter`
(`hybrid.tagfilter`): one stray crowd assignment does not make a rock artist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recommender.core.blas import single_threaded_blas
from recommender.core.bundle import Shapes, sparse_arrays
from recommender.core.component import Component, Ranker, State
from recommender.core.configs import Config
from recommender.core.csr import take_rows
from recommender.core.registry import Spec, create
from recommender.core.topk import TopK, top_k
from recommender.data.dataset import Dataset
from recommender.data.vocabulary import Vocabulary
from recommender.errors import InputError, shown
from recommender.hybrid.blend import sources_for, standardize_rows
from recommender.hybrid.catalogue import display_names, text_column
from recommender.hybrid.configs import HybridConfig, TagFilterConfig, ranker_spec
from recommender.hybrid.explain import explain_items, unit_rows
from recommender.hybrid.models import BlendModel
from recommender.hybrid.results import AudienceMember, Recommendation, TagWeight
from recommender.hybrid.scorer import HybridScorer, UserParts
from recommender.hybrid.tagfilter import (
    carriers,
    filtered_out_error,
    no_carrier_error,
    tag_weights,
)
from recommender.tags.normalize import normalize_tag
from recommender.tags.profiles import top_tags

RANKERS = ("hybrid", "rerank")


def _default_ranker() -> Spec:
    return Spec("hybrid", HybridConfig())


@dataclass(frozen=True)
class RecommenderConfig(Config):
    """ranker: the component that orders items ("hybrid" or "rerank") and its config;
    tag_filter: when an item carries a tag for `tags` / `any_tags`."""

    ranker: Spec = field(default_factory=_default_ranker)
    tag_filter: TagFilterConfig = field(default_factory=TagFilterConfig)

    def __post_init__(self) -> None:
        if self.ranker.name not in RANKERS:
            raise InputError(
                f"a recommender ranks with {' or '.join(RANKERS)}, not {self.ranker.name!r}"
            )


class HybridRecommender(Component):
    name: ClassVar[str] = "recommender"
    Config: ClassVar[type[Config]] = RecommenderConfig
    schema: ClassVar[int] = 2  # 2: tag weights (`tag_weights`) replace the boolean item_tags

    ranker: Ranker
    users: Vocabulary
    items: Vocabulary
    tags: Vocabulary
    sound: np.ndarray | None = None  # (n_items, dim) unit CNN embeddings, zero rows without

    # ---- training and persistence ---------------------------------------------------------
    @classmethod
    def train(
        cls,
        dataset: Dataset,
        *,
        model: str = "als",
        seed: int = 0,
        reranker: bool = False,
        **cf_params: Any,
    ) -> HybridRecommender:
        """Fit on `dataset` the ranker `recsys train` would: the hybrid on CF model `model`
        with `cf_params` (or the re-ranker over it)."""
        spec = ranker_spec(model, seed=seed, reranker=reranker, **cf_params)
        return cls(RecommenderConfig(ranker=spec)).fit(dataset)

    def fit(self, dataset: Dataset) -> Self:
        """Fit the ranker on `dataset` and keep what serving needs of it."""
        if dataset.plays.nnz == 0:
            raise InputError(
                "the database has no listens to train on; load data first with `recsys etl ...`"
            )
        spec = self.config.ranker
        self.ranker = create(spec.name, spec.config).fit(dataset)
        self.users, self.items, self.tags = dataset.users, dataset.items, dataset.tags
        self.plays = sp.csr_matrix(dataset.plays)
        self.item_crowd = dataset.item_tag_counts()
        self.tag_weights = tag_weights(
            self.item_crowd,
            dataset.predicted_tags,
            self.config.tag_filter,
            thresholds=dataset.predicted_thresholds,
        )
        meta = dataset.item_meta
        self.titles = text_column(None if meta is None else meta["title"], dataset.n_items)
        self.artists = text_column(None if meta is None else meta["artist"], dataset.n_items)
        embeddings = dataset.item_embeddings
        self.sound = None if embeddings is None else unit_rows(embeddings).astype(np.float32)
        self._derive()
        self.fitted = True
        return self

    def _derive(self) -> None:
        blend = self.ranker if isinstance(self.ranker, BlendModel) else self.ranker.hybrid
        self.scorer: HybridScorer = blend.scorer
        self.__dict__.pop("labels", None)

    @cached_property
    def labels(self) -> np.ndarray:
        """The display name of every item (`catalogue.display_name`), for explanations and
        name look-ups; built on first use (which a plain list need not pay)."""
        return display_names(self.artists, self.titles, self.items.ids)

    def _state(self) -> State:
        arrays = {
            "user_ids": self.users.ids,
            "item_ids": self.items.ids,
            "tag_ids": self.tags.ids,
            "titles": self.titles,
            "artists": self.artists,
            **sparse_arrays("plays", self.plays),
            **sparse_arrays("item_crowd", self.item_crowd),
            **sparse_arrays("tag_weights", self.tag_weights),
        }
        if self.sound is not None:
            arrays["sound"] = self.sound
        return State(arrays=arrays, parts={"ranker": self.ranker})

    def _restore(self, state: State) -> None:
        self.ranker = state.parts["ranker"]
        a = Shapes(state.arrays, users=self.ranker.n_users, items=self.ranker.n_items)
        self.users = Vocabulary(a("user_ids", ("users",), "U"), kind="user")
        self.items = Vocabulary(a("item_ids", ("items",), "U"), kind="track")
        self.tags = Vocabulary(a("tag_ids", ("tags",), "U"), kind="tag")
        self.titles, self.artists = a("titles", ("items",), "U"), a("artists", ("items",), "U")
        self.plays = a.sparse("plays", "users", "items")
        self.item_crowd = a.sparse("item_crowd", "items", "tags")
        self.tag_weights = a.sparse("tag_weights", "items", "tags")
        # absent: no CNN embeddings (or a bundle from before them)
        self.sound = a("sound", ("items", "sound"), "f") if "sound" in state.arrays else None
        self._derive()

    # ---- ranking: the one path of every list --------------------------------------------
    def rank(
        self,
        user_rows: np.ndarray,
        *,
        n: int = 10,
        tags: Sequence[str] | None = None,
        any_tags: Sequence[str] | None = None,
        include_listened: bool = False,
    ) -> TopK:
        """Top-n item indices and scores for trained users (rows of `users`), best first;
        only items carrying every tag in `tags` and one of `any_tags` (see `carrying`)."""
        rows = np.atleast_1d(np.asarray(user_rows, dtype=np.int64))
        return self.ranker.recommend(
            rows,
            n=n,
            exclude=None if include_listened else take_rows(self.plays, rows),
            candidates=self.carrying(tags, any_tags),
        )

    def rank_folded(
        self,
        parts: UserParts,
        history: sp.csr_matrix,
        *,
        n: int = 10,
        tags: Sequence[str] | None = None,
        any_tags: Sequence[str] | None = None,
        include_listened: bool = False,
    ) -> TopK:
        """`rank` for users the model never saw, given their parts and their play rows."""
        scores = self.ranker.score_parts(parts, history)
        return top_k(
            scores,
            n,
            exclude=None if include_listened else history,
            candidates=self.carrying(tags, any_tags),
        )

    def sources(self, ids: np.ndarray) -> np.ndarray:
        """What dominates each listed item's score: "cf", "content" or "hybrid" ("" for -1)."""
        ids = np.asarray(ids)
        labels = sources_for(self.scorer.play_counts[np.maximum(ids, 0)], k=self.scorer.blend.k)
        return np.where(ids >= 0, labels, "")

    def carrying(
        self, tags: Sequence[str] | None = None, any_tags: Sequence[str] | None = None
    ) -> np.ndarray | None:
        """Sorted indices of the items carrying every tag in `tags` and, if given, at least
        one in `any_tags` (crowd or predicted, each past its bar: `hybrid.tagfilter`); None
        without a filter. An unknown tag is an UnknownIdError; a filter no item passes, a
        NoMatchError saying how many items carry each tag."""
        every, some = self._tag_names(tags), self._tag_names(any_tags)
        if not every and not some:
            return None
        index = {t: self.tags.index_of(t) for t in [*every, *some]}
        found = carriers(self.tag_weights, [index[t] for t in every], [index[t] for t in some])
        if len(found) == 0:
            raise no_carrier_error(
                self.tag_weights, every, some, index=index, config=self.config.tag_filter
            )
        return found

    def _check_listed(
        self,
        top: TopK,
        tags: Sequence[str] | None,
        any_tags: Sequence[str] | None,
        *,
        who: str,
        include_listened: bool,
    ) -> None:
        """An empty list under a tag filter is a NoMatchError saying why (all carriers
        already played), not an empty table."""
        if include_listened or (top.ids >= 0).any():
            return
        found = self.carrying(tags, any_tags)
        if found is not None:
            every, some = self._tag_names(tags), self._tag_names(any_tags)
            raise filtered_out_error(len(found), every, some, who=who)

    @staticmethod
    def _tag_names(tags: Sequence[str] | None) -> list[str]:
        """Normalised, without blanks and repeats, in the order given."""
        return list(dict.fromkeys(t for t in map(normalize_tag, tags or ()) if t))

    def _tag_indices(self, tags: Sequence[str]) -> np.ndarray:
        names = [normalize_tag(t) for t in tags]
        return np.asarray([self.tags.index_of(t) for t in names if t], dtype=np.int64)

    # ---- queries by external id ----------------------------------------------------------
    def recommend(
        self,
        user_id: str,
        *,
        n: int = 10,
        tags: Sequence[str] | None = None,
        any_tags: Sequence[str] | None = None,
        include_listened: bool = False,
        explain: bool = False,
    ) -> list[Recommendation]:
        """Top-n items for a user in the model; `tags` keeps only items carrying all of them,
        `any_tags` only those carrying at least one of these.

        A user who arrived after training is not in the model: look up their history
        (`recommender.services.history.recommend_for_user` does it from the database)
        and call `recommend_history`.
        """
        row = self.users.index_of(user_id)
        top = self.rank(
            np.array([row]), n=n, tags=tags, any_tags=any_tags, include_listened=include_listened
        )
        self._check_listed(top, tags, any_tags, who=user_id, include_listened=include_listened)
        if not explain:
            return self._results(top)
        profile = self.scorer.space.user_profiles[row]
        return self._results(top, explain=True, profile=profile, played=self.plays[row].indices)

    def recommend_history(
        self,
        plays: Mapping[str, float],
        tagged: Iterable[tuple[str, str]] = (),
        *,
        n: int = 10,
        tags: Sequence[str] | None = None,
        any_tags: Sequence[str] | None = None,
        include_listened: bool = False,
        explain: bool = False,
    ) -> list[Recommendation]:
        """Top-n for a user the model never saw, from {track id: play count} and the
        (track id, tag) pairs they applied: folded into CF and given a tag profile with
        the bundle's IDF, then ranked by the same ranker. Tracks the bundle does not know
        are ignored; a history with nothing the bundle knows is an InputError."""
        from recommender.hybrid.foldin import fold_history, fold_in_profile

        tagged = list(tagged)
        folded = fold_history(plays, tagged, items=self.items, tags=self.tags)
        if folded.empty:
            raise InputError(
                f"the model knows none of this history ({len(plays)} played tracks,"
                f" {len(tagged)} tag assignments); run `recsys train` to include it,"
                " or recommend from tags with --tags jazz,piano"
            )
        profile = fold_in_profile(
            self.scorer.space,
            folded.plays,
            folded.applied,
            applied_weight=self.scorer.content.applied_weight,
        )
        with single_threaded_blas():
            cf_scores = self.scorer.cf.score_history(folded.plays)
            factors = self.scorer.fold_in_factors(cf_scores)
            parts = UserParts(cf_scores, factors, profile, np.array([folded.plays.nnz]))
        top = self.rank_folded(
            parts,
            folded.plays,
            n=n,
            tags=tags,
            any_tags=any_tags,
            include_listened=include_listened,
        )
        self._check_listed(
            top, tags, any_tags, who="this listener", include_listened=include_listened
        )
        return self._results(top, explain=explain, profile=profile, played=folded.plays.indices)

    def recommend_for_tags(
        self, tags: Sequence[str], *, n: int = 10, explain: bool = False
    ) -> list[Recommendation]:
        """A new user with no history: items matching the chosen tags, nudged by attention."""
        idx = self._tag_indices(tags)
        if len(idx) == 0:
            raise InputError("--tags is empty; give comma-separated tags such as jazz,piano")
        profile = self.scorer.space.profile_for_tags(idx)
        match = self.scorer.match(profile)
        scores = standardize_rows(match) + 0.25 * self.scorer.priors.attention[None, :]
        scores[match <= 0] = -np.inf  # nothing in common with the chosen tags
        top = top_k(scores, n)
        return self._results(
            top,
            explain=explain,
            profile=profile,
            played=np.empty(0, np.int64),
            sources=np.full(n, "content", dtype=object),
        )

    def similar(self, track_id: str, *, n: int = 10) -> list[Recommendation]:
        """CF neighbours of a played track; of a cold one, the tracks that sound most alike
        (cosine of the CNN's audio embeddings) when the tagger has them, else the tracks with
        the most alike tags (crowd and predicted tag vectors)."""
        item = self.items.index_of(track_id)
        if self.scorer.play_counts[item] > 0:
            ids, scores = self.scorer.cf.similar_items(item, n=n)
            source = "cf"
        elif self.sound is not None and np.any(self.sound[item]):
            sims = (np.asarray(self.sound) @ self.sound[item])[None, :]
            sims[0, item] = -np.inf
            sims[0, ~np.any(self.sound, axis=1)] = -np.inf  # no audio, nothing to compare
            ids, scores = top_k(sims, n)
            ids, scores = ids[0], scores[0]
            source = "audio"
        else:
            vectors = self.scorer.space.item_vectors
            if vectors[item].nnz == 0:
                raise InputError(
                    f"track {shown(track_id)} has no plays and no tags (crowd or predicted)"
                    " to compare;"
                    " run `recsys train` after tagging its audio"
                )
            sims = (vectors[item] @ vectors.T).toarray()
            sims[0, item] = -np.inf
            sims[sims <= 0] = -np.inf  # nothing in common
            ids, scores = top_k(sims, n)
            ids, scores = ids[0], scores[0]
            source = "content"
        top = TopK(np.asarray(ids)[None, :], np.asarray(scores)[None, :])
        return self._results(top, sources=np.full(top.ids.shape[1], source, dtype=object))

    def audience(self, track_id: str, *, n: int = 10) -> list[AudienceMember]:
        """The users a track should reach (those who played it excluded), even a cold track."""
        from recommender.hybrid.audience import audience_members, audience_scores

        item = self.items.index_of(track_id)
        with single_threaded_blas():
            scores = audience_scores(self.scorer, item, n_users=len(self.users))
        return audience_members(
            self.scorer,
            scores,
            item,
            plays=self.plays,
            user_ids=self.users.ids,
            tag_ids=self.tags.ids,
            n=n,
        )

    def user_tags(self, user_id: str, *, n: int = 20) -> list[TagWeight]:
        """The user's strongest profile tags (popular-tag discount applied)."""
        row = self.users.index_of(user_id)
        return [
            TagWeight(tag=self.tags.id_of(t), weight=round(w, 4))
            for t, w in top_tags(self.scorer.space.user_profiles[row], n=n)
        ]

    # ---- results --------------------------------------------------------------------------
    def _results(
        self,
        top: TopK,
        *,
        explain: bool = False,
        profile: sp.csr_matrix | None = None,
        played: np.ndarray | None = None,
        sources: np.ndarray | None = None,
    ) -> list[Recommendation]:
        """One row of `top` as Recommendations (empty slots dropped), explained on request."""
        ids, scores = top.ids[0], top.scores[0]
        keep = ids >= 0
        labels = (self.sources(ids) if sources is None else np.asarray(sources))[keep]
        ids, scores = ids[keep], scores[keep]
        why: list[Any] = [None] * len(ids)
        if explain and len(ids):
            why = explain_items(
                self.scorer,
                profile if profile is not None else sp.csr_matrix((1, len(self.tags))),
                self.item_crowd,
                ids,
                np.empty(0, np.int64) if played is None else played,
                tag_names=self.tags.ids,
                labels=self.labels,
            )
        return [
            Recommendation(
                item_id=self.items.id_of(int(i)),
                title=str(self.titles[i]),
                artist=str(self.artists[i]),
                score=round(float(s), 4),
                source=str(src),
                explanation=w,
            )
            for i, s, src, w in zip(ids, scores, labels, why, strict=True)
        ]
