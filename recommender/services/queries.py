"""What `recsys recommend / similar / audience / user-tags` (and the HTTP server) ask of the
current bundle, with the database consulted only for users who arrived after training."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from recommender.errors import InputError
from recommender.services.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from recommender.hybrid.recommender import HybridRecommender
    from recommender.hybrid.results import AudienceMember, Recommendation, TagWeight
    from recommender.services.batch import BatchSummary


def current(settings: Settings) -> HybridRecommender:
    """The bundle `recsys train` published last (a ModelBundleError says to train)."""
    from recommender.services.bundles import current_recommender

    return current_recommender(settings.models_dir)


def split_tags(values: Sequence[str] | None) -> list[str]:
    """`--tag a --tag b` and `--tags a,b` both become ['a', 'b']."""
    out: list[str] = []
    for value in values or []:
        out.extend(t.strip() for t in value.split(",") if t.strip())
    return out


def recommend(
    settings: Settings,
    *,
    user: str | None = None,
    tags: str | None = None,
    n: int = 10,
    only_tags: Sequence[str] | None = None,
    any_tags: Sequence[str] | None = None,
    include_listened: bool = False,
    explain: bool = False,
    batch_options: bool = False,
) -> list[Recommendation]:
    """A user's list (trained, or folded in from their database history), or a list for a
    new listener who picked `tags` ("jazz,piano"). `only_tags`: keep items carrying all of
    these; `any_tags`: and at least one of these. `batch_options`: the caller also gave
    options only batch mode takes (a usage error here)."""
    if batch_options:
        raise InputError("--out, --engine and --spark-master apply to batch mode (--all)")
    if (user is None) == (tags is None):
        raise InputError("give exactly one of --user U or --tags jazz,piano")
    from concurrent.futures import ThreadPoolExecutor

    from recommender.services.bundles import RECOMMENDER, current_path, read_recommender

    bundle = current_path(settings.models_dir, RECOMMENDER)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The database round trip (with its 0.2 s of imports) overlaps verifying the bundle.
        asked = pool.submit(_listened_since_training, settings, bundle, user) if user else None
        rec = read_recommender(bundle)
        changed = asked is not None and user in rec.users and asked.result()
    return recommend_from(
        rec,
        settings.engine,
        user=user,
        tags=tags,
        n=n,
        only_tags=only_tags,
        any_tags=any_tags,
        include_listened=include_listened,
        explain=explain,
        changed=changed,
    )


def _listened_since_training(settings: Settings, bundle: Path, user: str) -> bool:
    """Whether `user` has listens posted (`POST /listens`) after `bundle` was trained: then
    their history is folded in, as the server does."""
    from sqlalchemy.exc import DBAPIError

    from recommender.services.live import updated_since, watermark_of

    watermark = watermark_of(bundle)
    engine = settings.engine(create_schema=False)
    try:
        return updated_since(engine, user, watermark)
    except DBAPIError:  # a database from before live listens (no user_updates table)
        return False
    finally:
        engine.dispose()


def recommend_from(
    rec: HybridRecommender,
    engine: Callable[[], Engine],
    *,
    user: str | None = None,
    tags: str | None = None,
    n: int = 10,
    only_tags: Sequence[str] | None = None,
    any_tags: Sequence[str] | None = None,
    include_listened: bool = False,
    explain: bool = False,
    changed: bool = False,
) -> list[Recommendation]:
    """`recommend` on a loaded bundle (the server's path). `engine` is called only for a
    user the bundle does not know, or one who `changed` (listens newer than the bundle)."""
    if tags is not None:
        if only_tags or any_tags:
            raise InputError(
                "--tag and --any-tag filter a user's recommendations;"
                " with --tags just list every tag there"
            )
        return rec.recommend_for_tags(split_tags([tags]), n=n, explain=explain)
    options = dict(
        n=n,
        tags=split_tags(only_tags),
        any_tags=split_tags(any_tags),
        include_listened=include_listened,
        explain=explain,
    )
    if not reads_history(rec, user, changed=changed):  # the common case: no database
        return rec.recommend(user, **options)
    from recommender.services.history import recommend_for_user

    return recommend_for_user(rec, engine(), user, changed=changed, **options)


def reads_history(rec: HybridRecommender, user: str | None, *, changed: bool) -> bool:
    """Whether `recommend_from(user=...)` reads the user's history from the database: for a
    user the bundle does not know, or one with listens newer than it."""
    return changed or user not in rec.users


def recommend_visitor(
    rec: HybridRecommender,
    *,
    tags: Sequence[str] = (),
    tracks: Sequence[str] = (),
    n: int = 10,
    explain: bool = False,
) -> list[Recommendation]:
    """A listener with no account: chosen tags, a few played tracks, or both. Tracks are
    folded in as one play each and the tags as tags the visitor applied; tags alone give
    the `--tags` list."""
    tags = split_tags(tags)
    if not tracks:
        if not tags:
            raise InputError('give chosen tags, played tracks or both (e.g. tags: ["jazz"])')
        return rec.recommend_for_tags(tags, n=n, explain=explain)
    from recommender.tags.normalize import normalize_tag

    plays = {str(track): 1.0 for track in tracks}
    applied = [("", normalize_tag(tag)) for tag in tags]
    return rec.recommend_history(plays, applied, n=n, explain=explain)


def recommend_all(
    settings: Settings,
    *,
    out: str | None,
    n: int = 10,
    only_tags: Sequence[str] | None = None,
    any_tags: Sequence[str] | None = None,
    include_listened: bool = False,
    engine: str = "local",
    spark_master: str | None = None,
    single_options: bool = False,
) -> BatchSummary:
    """Every trained user's list (the one `recommend(user=...)` gives) into Parquet at `out`.
    `single_options`: the caller also named a user, tags or --explain (a usage error)."""
    from recommender.services.batch import recommend_all as run
    from recommender.services.bundles import RECOMMENDER, current_path
    from recommender.services.engines import spark_for

    if single_options:
        raise InputError("--all lists every user; drop --user, --tags and --explain")
    if not out:
        raise InputError("--all needs --out PATH for the Parquet output")
    session = spark_for(engine, spark_master)
    bundle_dir = current_path(settings.models_dir, RECOMMENDER)
    return run(
        current(settings),
        bundle_dir,
        out=out,
        n=n,
        tags=split_tags(only_tags),
        any_tags=split_tags(any_tags),
        include_listened=include_listened,
        session=session,
    )


def similar(settings: Settings, track: str, *, n: int = 10) -> list[Recommendation]:
    return current(settings).similar(track, n=n)


def audience(settings: Settings, track: str, *, n: int = 10) -> list[AudienceMember]:
    return current(settings).audience(track, n=n)


def user_tags(settings: Settings, user: str, *, n: int = 20) -> list[TagWeight]:
    return current(settings).user_tags(user, n=n)
