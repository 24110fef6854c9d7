"""Names instead of ids: the one place that turns what a person types ("Britney Spears",
"bjork", "Cocteau Twins - Dream Fire") into the ids the model knows, says which ids an
ambiguous name could mean, suggests the closest names for an unknown one, and searches.

Used by the CLI (`similar`, `audience`, `search`, unknown users and tags) and the HTTP
server alike. Everything is read from the served bundle (ids, titles, artists, users, tags),
never the database, so a name resolves to an item the model can answer for. Matching is on
a folded form (case, accents and runs of spaces ignored); fuzzy matching is the standard
library's difflib (about 60 ms over HetRec's 17,632 artists, only when nothing matches).
"""

from __future__ import annotations

import difflib
import unicodedata
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from recommender.errors import AmbiguousNameError, UnknownIdError, shown
from recommender.hybrid.catalogue import display_name

if TYPE_CHECKING:
    from recommender.hybrid.recommender import HybridRecommender

FUZZY_CUTOFF = 0.75  # difflib ratio below which two names are not alike ("jaz" ~ "jazz": 0.86)
SUGGESTIONS = 3  # names an "unknown ..." error offers
CANDIDATES = 10  # lines an ambiguous name lists
MATCHES = ("id", "exact", "prefix", "substring", "fuzzy")  # best first
KINDS = ("track", "artist", "user", "tag")


def fold(text: str) -> str:
    """The form names are compared in: case-folded, accents dropped, spaces collapsed
    ("  Björk " and "bjork" fold alike)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@dataclass(frozen=True)
class Named:
    """An item resolved from what was typed: its id and its display name."""

    id: str
    name: str

    def __str__(self) -> str:
        return self.id if self.name == self.id else f"{self.name} ({self.id})"


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "track", "artist" (an item that is an artist, or an artist's tracks), "user", "tag"
    id: str  # what to pass to --track / --user / --tag (an artist's track ids, comma-separated)
    name: str
    match: str  # one of MATCHES

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Entries:
    """One kind of searchable thing: per entry an id, a display name, a kind label, a
    popularity (to order equal matches) and the folded keys it answers to."""

    ids: list[str]
    names: list[str]
    kinds: list[str]
    popularity: np.ndarray
    keys: list[tuple[str, ...]]
    exact: dict[str, list[int]] = field(init=False)  # folded key -> entries
    exact_ids: dict[str, int] = field(init=False)  # id -> entry

    def __post_init__(self) -> None:
        self.exact_ids = {value: entry for entry, value in enumerate(self.ids)}
        self.exact = {}
        for entry, keys in enumerate(self.keys):
            for key in keys:
                self.exact.setdefault(key, []).append(entry)

    def find(self, query: str, n: int, *, alike: bool = True) -> list[tuple[int, str]]:
        """Up to `n` (entry, match) pairs, best match first, then the most popular; names
        difflib finds alike only if `alike` and nothing contains the query."""
        folded = fold(query)
        if not folded:
            return []
        tiers: dict[int, tuple[int, float]] = {}  # entry -> (match rank, -similarity)
        for entry in self.exact.get(folded, ()):
            tiers[entry] = (1, 0.0)
        if query.strip() in self.exact_ids:
            tiers[self.exact_ids[query.strip()]] = (0, 0.0)
        for entry, keys in enumerate(self.keys):
            if entry not in tiers:
                if any(k.startswith(folded) for k in keys):
                    tiers[entry] = (2, 0.0)
                elif any(folded in k for k in keys):
                    tiers[entry] = (3, 0.0)
        if alike and not tiers:
            for entry, similarity in self._alike(folded):
                tiers.setdefault(entry, (4, -similarity))
        order = sorted(tiers, key=lambda e: (*tiers[e], -self.popularity[e], self.names[e]))
        return [(e, self._match(e, tiers[e][0])) for e in order[:n]]

    def _match(self, entry: int, tier: int) -> str:
        """The tier's name; "exact" rather than "id" where the id is the name (users, tags)."""
        return "exact" if tier == 0 and self.ids[entry] == self.names[entry] else MATCHES[tier]

    def _alike(self, folded: str) -> Iterable[tuple[int, float]]:
        """Entries with a key difflib finds alike (ratio >= FUZZY_CUTOFF), as
        `difflib.get_close_matches` filters them: cheap upper bounds first."""
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(folded)
        for entry, keys in enumerate(self.keys):
            best = 0.0
            for key in keys:
                matcher.set_seq1(key)
                if (
                    matcher.real_quick_ratio() >= FUZZY_CUTOFF
                    and matcher.quick_ratio() >= FUZZY_CUTOFF
                ):
                    best = max(best, matcher.ratio())
            if best >= FUZZY_CUTOFF:
                yield entry, best

    def label(self, entry: int) -> str:
        return str(Named(self.ids[entry], self.names[entry]))


class NameIndex:
    """Every name of one bundle: items (by title, artist, display name, "artist - title"),
    artists with their tracks, users (ids only) and tags; each kind built on first use."""

    def __init__(
        self,
        *,
        item_ids: Sequence[str],
        titles: Sequence[str],
        artists: Sequence[str],
        listeners: np.ndarray,
        user_ids: Sequence[str],
        user_items: np.ndarray,
        tags: Sequence[str],
        tag_items: np.ndarray,
    ) -> None:
        self._items = (list(item_ids), list(titles), list(artists), np.asarray(listeners))
        self._users = (list(user_ids), np.asarray(user_items))
        self._tags = (list(tags), np.asarray(tag_items))

    @classmethod
    def of(cls, rec: HybridRecommender) -> NameIndex:
        """The index of a loaded bundle, one per bundle object (items: 0.2 s on HetRec)."""
        index = _CACHE.get(rec)
        if index is None:
            index = cls(
                item_ids=rec.items.ids.tolist(),
                titles=rec.titles.tolist(),
                artists=rec.artists.tolist(),
                listeners=np.asarray(rec.scorer.play_counts),
                user_ids=rec.users.ids.tolist(),
                user_items=np.diff(rec.plays.indptr),
                tags=rec.tags.ids.tolist(),
                tag_items=np.bincount(rec.item_crowd.indices, minlength=len(rec.tags)),
            )
            _CACHE[rec] = index
        return index

    @cached_property
    def items(self) -> _Entries:
        ids, titles, artists, listeners = self._items
        names, keys, kinds = [], [], []
        for item_id, title, artist in zip(ids, titles, artists, strict=True):
            name = display_name(artist, title, item_id)
            folded = {fold(title), fold(artist), fold(name), fold(f"{artist} - {title}")}
            names.append(name)
            keys.append(_keys(folded))
            kinds.append("artist" if fold(name) == fold(artist) else "track")  # HetRec's items
        return _Entries(ids, names, kinds, listeners, keys)

    @cached_property
    def artists(self) -> _Entries:
        """Artists of tracks with their own titles; an artist's "id" is its most played
        tracks' ids, what `--track` takes."""
        items = self.items
        by_artist: dict[str, list[int]] = {}
        for entry, artist in enumerate(self._items[2]):
            if artist.strip() and items.kinds[entry] == "track":
                by_artist.setdefault(artist.strip(), []).append(entry)
        names = sorted(by_artist)
        ids, popularity = [], []
        for artist in names:
            tracks = sorted(by_artist[artist], key=lambda e: -items.popularity[e])
            shown = ", ".join(items.ids[e] for e in tracks[:3])
            ids.append(shown + (f", … (+{len(tracks) - 3})" if len(tracks) > 3 else ""))
            popularity.append(sum(items.popularity[e] for e in tracks))
        keys = [_keys({fold(a)}) for a in names]
        return _Entries(ids, names, ["artist"] * len(names), np.asarray(popularity), keys)

    @cached_property
    def users(self) -> _Entries:
        return _plain(*self._users, kind="user")

    @cached_property
    def tags(self) -> _Entries:
        return _plain(*self._tags, kind="tag")

    # ---- resolution -------------------------------------------------------------------
    def track(self, query: str) -> Named:
        """The item `query` names: its external id; else the one item whose title, artist
        or display name ("artist - title") is `query` verbatim, or failing that folded.
        Several: AmbiguousNameError listing them. None: UnknownIdError with the closest."""
        items = self.items
        text = query.strip()
        if text in items.exact_ids:
            return self._named(items.exact_ids[text])
        matches = items.exact.get(fold(text), [])
        nfc = unicodedata.normalize("NFC", text)
        for same in (lambda a: a == nfc, lambda a: a.casefold() == nfc.casefold()):
            if len(matches) > 1:  # "Rihanna" over "Rihannà", "Múm" over "Mum"
                closer = [e for e in matches if any(map(same, self._spellings(e)))]
                matches = closer if len(closer) == 1 else matches
        if len(matches) == 1:
            return self._named(matches[0])
        if matches:
            raise _ambiguous(query, items, matches)
        raise self.unknown("track", query)

    def suggest(self, kind: str, query: str) -> tuple[str, ...]:
        """The SUGGESTIONS closest known names of `kind` ("track", "user" or "tag")."""
        entries = {"track": self.items, "user": self.users, "tag": self.tags}[kind]
        return tuple(entries.label(e) for e, _ in entries.find(query, SUGGESTIONS))

    def unknown(
        self, kind: str, query: str, *, detail: str = "", otherwise: str = ""
    ) -> UnknownIdError:
        """ "unknown KIND 'query'[ detail]; did you mean A, B or C?" as an error to raise."""
        suggestions = self.suggest(kind, query)
        return UnknownIdError(
            f"unknown {kind} {shown(query)}{detail}; {_did_you_mean(suggestions)}{otherwise}",
            suggestions=suggestions,
        )

    # ---- search -----------------------------------------------------------------------
    def search(self, query: str, *, n: int = 10) -> list[SearchHit]:
        """Up to `n` hits per kind of thing (items, artists, users, tags), each best first:
        id, exact name, prefix, substring; names difflib finds alike when none of these."""
        kinds = (self.items, self.artists, self.users, self.tags)
        for alike in (False, True):  # alike spellings of any kind only when nothing matches
            hits = [
                SearchHit(entries.kinds[e], entries.ids[e], entries.names[e], match)
                for entries in kinds
                for e, match in entries.find(query, n, alike=alike)
            ]
            if hits:
                break
        return hits

    def _spellings(self, entry: int) -> tuple[str, ...]:
        """The names an item answers to as written (NFC): title, artist, display name."""
        _, titles, artists, _ = self._items
        title, artist = titles[entry], artists[entry]
        spellings = (title, artist, self.items.names[entry], f"{artist} - {title}")
        return tuple(unicodedata.normalize("NFC", s.strip()) for s in spellings)

    def _named(self, entry: int) -> Named:
        return Named(self.items.ids[entry], self.items.names[entry])


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _keys(folded: set[str]) -> tuple[str, ...]:
    """The keys of a name: its folded forms, also without a leading "the " ("beatles" finds
    The Beatles, and "beatls" is alike to it)."""
    keys = folded | {k.removeprefix("the ") for k in folded}
    return tuple(sorted(k for k in keys if k))


def _plain(ids: Sequence[str], popularity: np.ndarray, *, kind: str) -> _Entries:
    return _Entries(ids, ids, [kind] * len(ids), popularity, [(fold(i),) for i in ids])


def _ambiguous(query: str, items: _Entries, matches: list[int]) -> AmbiguousNameError:
    order = sorted(matches, key=lambda e: (-items.popularity[e], items.ids[e]))
    lines = [
        f"{items.ids[e]}  {items.names[e]}  ({_listeners(int(items.popularity[e]))})"
        for e in order[:CANDIDATES]
    ]
    if len(order) > CANDIDATES:
        lines.append(
            f"… and {len(order) - CANDIDATES} more (`recsys search {shown(query)}` lists them)"
        )
    return AmbiguousNameError(
        f"{shown(query)} names {len(matches)} tracks; give one of these ids instead",
        candidates=tuple(lines),
    )


def _listeners(count: int) -> str:
    return "1 listener" if count == 1 else f"{count:,} listeners"


def _did_you_mean(suggestions: Sequence[str]) -> str:
    if not suggestions:
        return "no known name is like it (`recsys search` finds tracks, artists, users, tags)."
    return "did you mean " + ", ".join(suggestions) + "?"


# ---- what the queries call ----------------------------------------------------------------
def resolve_track(rec: HybridRecommender, query: str) -> Named:
    """`NameIndex.track` on a bundle, with no index built when `query` is an id."""
    if query in rec.items:
        item = rec.items.index_of(query)
        return Named(query, display_name(str(rec.artists[item]), str(rec.titles[item]), query))
    return NameIndex.of(rec).track(query)


def check_user(rec: HybridRecommender, user: str) -> None:
    """An UnknownIdError naming the closest user ids unless the bundle has `user`."""
    if user not in rec.users:
        raise NameIndex.of(rec).unknown("user", user)


def check_tags(rec: HybridRecommender, tags: Iterable[str]) -> None:
    """An UnknownIdError naming the closest tags for the first tag the bundle lacks."""
    from recommender.tags.normalize import normalize_tag

    for tag in tags:
        name = normalize_tag(tag)
        if name and name not in rec.tags:
            raise NameIndex.of(rec).unknown("tag", tag)


def search(rec: HybridRecommender, query: str, *, n: int = 10) -> list[SearchHit]:
    """`NameIndex.search` on a bundle."""
    return NameIndex.of(rec).search(query, n=n)
