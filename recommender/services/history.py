"""A user's history from the database, for users who arrived after the model was trained.

Three small queries on primary-key prefixes (the user, their listens, their tags) instead of
`load_dataset`: serving a new user must cost milliseconds, not a full table scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from recommender.storage.schema import Listen, Tag, TagAssignment, Track, User

if TYPE_CHECKING:
    from recommender.hybrid.recommender import HybridRecommender
    from recommender.hybrid.results import Recommendation


@dataclass(frozen=True)
class UserHistory:
    """What the database knows about one user, by external ids."""

    user_id: str
    plays: dict[str, float] = field(default_factory=dict)  # track id -> play count
    tagged: list[tuple[str, str]] = field(default_factory=list)  # (track id, tag name)

    @property
    def empty(self) -> bool:
        return not self.plays and not self.tagged


def user_history(engine: Engine, user_id: str) -> UserHistory | None:
    """The user's listens and tag assignments; None when the database has no such user."""
    with engine.connect() as conn:
        key = conn.execute(select(User.id).where(User.external_id == user_id)).scalar()
        if key is None:
            return None
        listens = conn.execute(
            select(Track.external_id, Listen.play_count)
            .join(Track, Track.id == Listen.track_id)
            .where(Listen.user_id == key)
        ).all()
        tagged = conn.execute(
            select(Track.external_id, Tag.name)
            .select_from(TagAssignment)
            .join(Track, Track.id == TagAssignment.track_id)
            .join(Tag, Tag.id == TagAssignment.tag_id)
            .where(TagAssignment.user_id == key)
        ).all()
    return UserHistory(
        user_id=user_id,
        plays={str(track): float(count) for track, count in listens},
        tagged=sorted((str(track), str(tag)) for track, tag in tagged),
    )


def recommend_for_user(
    rec: HybridRecommender,
    engine: Engine,
    user_id: str,
    *,
    changed: bool = False,
    **options: Any,
) -> list[Recommendation]:
    """`recsys recommend --user U` as a call: the model's user if it knows them, otherwise
    the user's database history folded in. `changed`: the user has listens newer than the
    model, so fold in their whole history even if the model knows them. `options` are
    those of `HybridRecommender.recommend`.
    """
    if user_id in rec.users and not changed:
        return rec.recommend(user_id, **options)
    history = user_history(engine, user_id)
    if history is None or history.empty:
        where = (
            "or the database" if history is None else "and without listens or tags in the database"
        )
        from recommender.services.names import NameIndex

        raise NameIndex.of(rec).unknown(
            "user",
            user_id,
            detail=f" (not in the model {where})",
            otherwise=" Or recommend for a new listener from tags with --tags jazz,piano.",
        )
    return rec.recommend_history(history.plays, history.tagged, **options)
