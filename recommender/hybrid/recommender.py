"""`HybridRecommender`: the Python API behind `recsys recommend / similar / audience / user-tags`.

Train once (or load a bundle once), then every query is a few vectorised numpy
operations over all items: one user's recommendations take milliseconds.

    rec = HybridRecommender.load_current(settings.models_dir)
    rec.recommend("user-42", n=10, tags=["jazz"], explain=True)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from recommender.data.dataset import Dataset
from recommender.data.vocabulary import Vocabulary
from recommender.errors import InputError
from recommender.hybrid.blend import BlendParams, sources_for, standardize_rows
from recommender.hybrid.catalogue import item_tag_sets, text_column
from recommender.hybrid.explain import explain_items
from recommender.hybrid.results import AudienceMember, Recommendation, TagWeight
from recommender.hybrid.scorer import ContentParams, HybridScorer, fit_scorer
from recommender.hybrid.storage import KIND, training_manifest
from recommender.tags.normalize import normalize_tag
from recommender.tags.profiles import top_tags


def _one_blas_thread():
    """Single-user queries are tiny GEMVs: a BLAS thread pool only adds hand-off latency
    (measured 16-30 ms instead of 0.1 ms on a busy 2-core machine). The CF layer's cached
    controller: a fresh `threadpool_limits` rescans every loaded library (3.5 ms a query)."""
    from recommender.cf.blas import single_threaded_blas

    return single_threaded_blas()


class HybridRecommender:
    def __init__(
        self,
        *,
        users: Vocabulary,
        items: Vocabulary,
        tags: Vocabulary,
        cf: Any,
        scorer: HybridScorer,
        plays: sp.csr_matrix,
        item_crowd: sp.csr_matrix,
        item_tags: sp.csr_matrix,
        titles: np.ndarray,
        artists: np.ndarray,
        manifest: dict[str, Any] | None = None,
    ) -> None:
        self.users, self.items, self.tags = users, items, tags
        self.cf, self.scorer = cf, scorer
        self.plays, self.item_crowd, self.item_tags = plays, item_crowd, item_tags
        self.titles, self.artists = titles, artists
        self.manifest: dict[str, Any] = manifest or {}
        self.labels = np.char.add(np.char.add(artists, np.where(artists != "", " - ", "")), titles)
        self.labels = np.where(self.labels == "", items.ids, self.labels)

    # ---- training and persistence ---------------------------------------------------------
    @classmethod
    def train(
        cls,
        dataset: Dataset,
        *,
        model: str = "als",
        factors: int | None = None,
        seed: int = 0,
        blend: BlendParams | None = None,
        content: ContentParams | None = None,
    ) -> HybridRecommender:
        """Fit CF, the tag space and the content map on `dataset`."""
        from recommender.cf.base import create_cf_model

        if dataset.plays.nnz == 0:
            raise InputError(
                "the database has no listens to train on; load data first with `recsys etl ...`"
            )
        cf = create_cf_model(model, seed=seed, **({"factors": factors} if factors else {}))
        cf.fit(dataset.plays)
        blend, content = blend or BlendParams(), content or ContentParams()
        scorer = fit_scorer(dataset, cf, blend=blend, content=content)
        crowd, present = item_tag_sets(dataset)
        meta = dataset.item_meta
        manifest = training_manifest(dataset, cf, scorer, model=model, seed=seed)
        return cls(
            users=dataset.users,
            items=dataset.items,
            tags=dataset.tags,
            cf=cf,
            scorer=scorer,
            plays=sp.csr_matrix(dataset.plays),
            item_crowd=crowd,
            item_tags=present,
            titles=text_column(None if meta is None else meta["title"], dataset.n_items),
            artists=text_column(None if meta is None else meta["artist"], dataset.n_items),
            manifest=manifest,
        )

    def save(self, path: Path) -> Path:
        """Write this model as a bundle directory at `path` (atomically)."""
        from recommender.bundle import write_bundle
        from recommender.hybrid.storage import write_state

        return write_bundle(Path(path), lambda tmp: write_state(tmp, self), self.manifest)

    @classmethod
    def load(cls, path: Path) -> HybridRecommender:
        """Load a bundle written by `save`; anything wrong is a ModelBundleError naming the fix."""
        from recommender.bundle import read_manifest
        from recommender.hybrid.storage import read_state

        manifest = read_manifest(Path(path), kind=KIND)
        with warnings.catch_warnings():
            # implicit warns about OpenBLAS threads when it builds a model object; that
            # matters for training, not for scoring (queries run with one BLAS thread).
            warnings.filterwarnings(
                "ignore", message="OpenBLAS is configured", category=RuntimeWarning
            )
            state = read_state(Path(path), manifest)
        return cls(**state, manifest=manifest)

    @classmethod
    def load_current(cls, models_dir: Path) -> HybridRecommender:
        from recommender.bundle import current_bundle

        return cls.load(current_bundle(models_dir))

    # ---- queries ---------------------------------------------------------------------------
    def _tag_indices(self, tags: Sequence[str]) -> np.ndarray:
        return np.asarray(
            [self.tags.index_of(normalize_tag(t)) for t in tags if normalize_tag(t)], dtype=np.int64
        )

    def _carrying(self, tags: Sequence[str] | None) -> np.ndarray | None:
        """Sorted indices of items carrying every tag in `tags` (crowd or predicted)."""
        if not tags:
            return None
        idx = self._tag_indices(tags)
        hits = np.asarray(self.item_tags[:, idx].sum(axis=1)).ravel()
        return np.flatnonzero(hits >= len(idx))

    def _results(
        self,
        ids: np.ndarray,
        scores: np.ndarray,
        sources: np.ndarray,
        explain: bool,
        profile: sp.csr_matrix | None,
        played: np.ndarray,
    ) -> list[Recommendation]:
        keep = ids >= 0
        ids, scores, sources = ids[keep], scores[keep], sources[keep]
        why: list[Any] = [None] * len(ids)
        if explain and len(ids):
            why = explain_items(
                self.scorer,
                profile if profile is not None else sp.csr_matrix((1, len(self.tags))),
                self.item_crowd,
                ids,
                played,
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
            for i, s, src, w in zip(ids, scores, sources, why, strict=False)
        ]

    def recommend(
        self,
        user_id: str,
        *,
        n: int = 10,
        tags: Sequence[str] | None = None,
        include_listened: bool = False,
        explain: bool = False,
    ) -> list[Recommendation]:
        """Top-n items for a user in the model; `tags` keeps only items carrying all of them.

        A user who arrived after training is not in the model: look up their history
        (`recommender.hybrid.history.recommend_for_user` does it from the database) and
        call `recommend_history`.
        """
        row = self.users.index_of(user_id)
        with _one_blas_thread():
            scores = self.scorer.hybrid_scores(np.array([row]))
        return self._rank(
            scores,
            self.plays[row],
            self.scorer.space.user_profiles[row],
            n=n,
            tags=tags,
            include_listened=include_listened,
            explain=explain,
        )

    def recommend_history(
        self,
        plays: Mapping[str, float],
        tagged: Iterable[tuple[str, str]] = (),
        *,
        n: int = 10,
        tags: Sequence[str] | None = None,
        include_listened: bool = False,
        explain: bool = False,
    ) -> list[Recommendation]:
        """Top-n for a user the model never saw, from {track id: play count} and the
        (track id, tag) pairs they applied: folded into CF and given a tag profile with
        the bundle's IDF, then ranked by the same blend. Tracks the bundle does not know
        are ignored; a history with nothing the bundle knows is an InputError."""
        from recommender.hybrid.foldin import fold_history, fold_in_cf, fold_in_profile

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
        with _one_blas_thread():
            cf_scores = fold_in_cf(self.cf, folded.plays)
            user_factors = self.scorer.fold_in_factors(cf_scores)
            scores = self.scorer.blend_for(cf_scores, user_factors, profile)
        return self._rank(
            scores,
            folded.plays,
            profile,
            n=n,
            tags=tags,
            include_listened=include_listened,
            explain=explain,
        )

    def _rank(
        self,
        scores: np.ndarray,
        history: sp.csr_matrix,
        profile: sp.csr_matrix,
        *,
        n: int,
        tags: Sequence[str] | None,
        include_listened: bool,
        explain: bool,
    ) -> list[Recommendation]:
        """One user's blend scores (1, n_items) -> filtered top-n results with sources."""
        from recommender.cf.topn import top_n

        ids, best = top_n(
            scores, n, exclude=None if include_listened else history, items=self._carrying(tags)
        )
        sources = sources_for(self.scorer.play_counts[np.maximum(ids[0], 0)], k=self.scorer.blend.k)
        return self._results(ids[0], best[0], sources, explain, profile, history.indices)

    def recommend_for_tags(
        self, tags: Sequence[str], *, n: int = 10, explain: bool = False
    ) -> list[Recommendation]:
        """A new user with no history: items matching the chosen tags, nudged by attention."""
        from recommender.cf.topn import top_n

        idx = self._tag_indices(tags)
        if len(idx) == 0:
            raise InputError("--tags is empty; give comma-separated tags such as jazz,piano")
        profile = self.scorer.space.profile_for_tags(idx)
        match = (profile @ self.scorer.space.item_vectors.T).toarray().astype(np.float32)
        scores = standardize_rows(match) + 0.25 * standardize_rows(self.scorer.attention[None, :])
        scores[match <= 0] = -np.inf  # nothing in common with the chosen tags
        ids, best = top_n(scores, n)
        sources = np.full(ids.shape[1], "content", dtype=object)
        return self._results(
            ids[0], best[0], sources, explain, profile, np.empty(0, dtype=np.int64)
        )

    def similar(self, track_id: str, *, n: int = 10) -> list[Recommendation]:
        """CF neighbours of a played track; content (tag-vector) neighbours of a cold one."""
        item = self.items.index_of(track_id)
        if self.scorer.play_counts[item] > 0:
            ids, scores = self.cf.similar_items(item, n=n)
            source = "cf"
        else:
            vectors = self.scorer.space.item_vectors
            if vectors[item].nnz == 0:
                raise InputError(
                    f"track {track_id!r} has no plays and no tags (crowd or predicted) to compare;"
                    " run `recsys train` after tagging its audio"
                )
            sims = (vectors @ vectors[item].T).toarray().ravel()
            sims[item] = -np.inf
            order = np.argsort(-sims, kind="stable")[:n]
            ids, scores = order[sims[order] > 0], sims[order][sims[order] > 0]
            source = "content"
        sources = np.full(len(ids), source, dtype=object)
        return self._results(
            np.asarray(ids), np.asarray(scores), sources, False, None, np.empty(0, np.int64)
        )

    def audience(self, track_id: str, *, n: int = 10) -> list[AudienceMember]:
        """The users a track should reach (those who played it excluded), even a cold track."""
        from recommender.hybrid.audience import audience_members, audience_scores

        item = self.items.index_of(track_id)
        with _one_blas_thread():
            scores = audience_scores(self.scorer, self.cf, item, n_users=len(self.users))
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
