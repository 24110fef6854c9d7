"""Names instead of ids (`recommender.services.names`) on a small catalogue whose answers
are known, and the one display name (`recommender.hybrid.catalogue.display_name`)."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.errors import AmbiguousNameError, UnknownIdError
from recommender.hybrid.catalogue import display_name, display_names
from recommender.services.names import Named, NameIndex, fold

# id, title, artist, listeners
CATALOGUE = [
    ("t1", "Toxic", "Britney Spears", 50),
    ("t2", "Oops", "Britney Spears", 40),
    ("t3", "Dream Fire", "Cocteau Twins", 30),
    ("t4", "Dream Fire", "The Dreamers", 5),
    ("t5", "Jóga", "Björk", 20),
    ("289", "Billy Ray Cyrus", "Billy Ray Cyrus", 10),  # HetRec: the item is an artist
    ("t7", "", "", 0),  # no name at all
    ("t8", "Rihanna", "Rihanna", 48),
    ("t9", "Rihannà", "Rihannà", 1),
]


@pytest.fixture
def index() -> NameIndex:
    ids, titles, artists, listeners = zip(*CATALOGUE, strict=True)
    return NameIndex(
        item_ids=ids,
        titles=titles,
        artists=artists,
        listeners=np.array(listeners),
        user_ids=["1677", "1697", "1977", "42"],
        user_items=np.array([3, 9, 1, 2]),
        tags=["jazz", "acid jazz", "reggae", "rock"],
        tag_items=np.array([5, 2, 3, 8]),
    )


def test_display_name_is_never_blank_nor_repeated():
    assert display_name("Britney Spears", "Toxic", "t1") == "Britney Spears - Toxic"
    assert display_name("Billy Ray Cyrus", "Billy Ray Cyrus", "289") == "Billy Ray Cyrus"
    assert display_name("MUM", "mum", "4049") == "MUM"  # the same name in another case
    assert display_name("", "Song One", "t1") == "Song One"
    assert display_name("Someone", " ", "t1") == "Someone"
    assert display_name("", "", "9842") == "9842"
    names = display_names(
        np.array(["A", "", "B"]), np.array(["A", "", "x"]), np.array(["1", "2", "3"])
    )
    assert names.tolist() == ["A", "2", "B - x"]


def test_fold_ignores_case_accents_and_spacing():
    assert fold("  Björk ") == fold("bjork") == "bjork"
    assert fold("Sigur  Rós") == "sigur ros"


def test_a_name_resolves_to_its_one_item(index):
    assert index.track("t3") == Named("t3", "Cocteau Twins - Dream Fire")  # an id first
    assert index.track("Toxic") == Named("t1", "Britney Spears - Toxic")  # a title
    assert index.track("bjork") == Named("t5", "Björk - Jóga")  # an artist, accents folded
    assert index.track("cocteau twins - dream fire") == Named("t3", "Cocteau Twins - Dream Fire")
    assert index.track("Billy Ray Cyrus") == Named("289", "Billy Ray Cyrus")
    assert index.track("billy ray cyrus - billy ray cyrus").id == "289"
    # equal once folded: the spelling as typed, then the case-insensitive one, decides
    assert index.track("Rihannà").id == "t9"
    assert index.track("rihanna").id == "t8"
    assert str(index.track("289")) == "Billy Ray Cyrus (289)"


def test_an_ambiguous_name_lists_every_candidate_most_listened_first(index):
    with pytest.raises(AmbiguousNameError) as caught:
        index.track("dream fire")
    assert str(caught.value) == "'dream fire' names 2 tracks; give one of these ids instead"
    assert caught.value.candidates == (
        "t3  Cocteau Twins - Dream Fire  (30 listeners)",
        "t4  The Dreamers - Dream Fire  (5 listeners)",
    )
    with pytest.raises(AmbiguousNameError) as caught:
        index.track("Britney Spears")  # an artist of two tracks
    assert [line.split()[0] for line in caught.value.candidates] == ["t1", "t2"]


def test_an_unknown_name_suggests_the_closest(index):
    with pytest.raises(UnknownIdError) as caught:
        index.track("Britny Spears - Toxic")
    assert caught.value.suggestions[0] == "Britney Spears - Toxic (t1)"
    assert str(caught.value).startswith(
        "unknown track 'Britny Spears - Toxic'; did you mean Britney Spears - Toxic (t1)"
    )
    with pytest.raises(UnknownIdError) as caught:
        index.track("zzzzqqqq")
    assert caught.value.suggestions == ()
    assert "no known name is like it" in str(caught.value)
    # equally alike: the most active user first
    assert index.unknown("user", "16977").suggestions == ("1697", "1677", "1977")
    assert index.unknown("tag", "jaz").suggestions[0] == "jazz"


def test_search_finds_each_kind_best_match_first(index):
    hits = [(h.kind, h.id, h.name, h.match) for h in index.search("britney")]
    assert hits == [
        ("track", "t1", "Britney Spears - Toxic", "prefix"),
        ("track", "t2", "Britney Spears - Oops", "prefix"),
        ("artist", "t1, t2", "Britney Spears", "prefix"),
    ]
    assert [(h.kind, h.id, h.match) for h in index.search("billy ray")] == [
        ("artist", "289", "prefix")  # an item that is an artist, not a second "artist" row
    ]
    assert [(h.kind, h.id, h.match) for h in index.search("jazz", n=2)] == [
        ("tag", "jazz", "exact"),
        ("tag", "acid jazz", "substring"),
    ]
    assert [(h.kind, h.id, h.match) for h in index.search("1697", n=1)] == [
        ("user", "1697", "exact")
    ]
    assert [(h.kind, h.id, h.match) for h in index.search("regae")] == [("tag", "reggae", "fuzzy")]
    assert index.search("   ") == []
