"""What the API returns: small dataclasses the CLI prints as a table or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class MatchedTag:
    tag: str
    origin: str  # "crowd" or "predicted": where the item got this tag
    weight: float  # user-profile weight x item weight


@dataclass(frozen=True)
class Explanation:
    tags: list[MatchedTag] = field(default_factory=list)  # the user's tags the item carries
    close_to: list[str] = field(
        default_factory=list
    )  # played items it is closest to, by display name (`catalogue.display_name`)

    def summary(self) -> str:
        parts = []
        if self.tags:
            parts.append(
                "tags: "
                + ", ".join(
                    t.tag + (" (predicted)" if t.origin == "predicted" else "") for t in self.tags
                )
            )
        if self.close_to:
            parts.append("close to: " + "; ".join(self.close_to))
        return " | ".join(parts) or "popular with listeners like you"

    def brief(self, *, tags: int = 2) -> str:
        """The gist for one table cell: the `tags` strongest matching tags, the closest play."""
        parts = []
        if self.tags:
            parts.append(
                ", ".join(
                    t.tag + (" (audio)" if t.origin == "predicted" else "")
                    for t in self.tags[:tags]
                )
            )
        if self.close_to:
            parts.append(f"like {self.close_to[0]}")
        return "; ".join(parts) or "popular with listeners like you"


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    title: str
    artist: str
    score: float
    source: str  # "cf", "content", "hybrid", or "audio" (a cold track's sound-alikes)
    explanation: Explanation | None = None

    @property
    def name(self) -> str:
        """What a list shows for the item (never blank, never "X - X")."""
        from recommender.hybrid.catalogue import display_name

        return display_name(self.artist, self.title, self.item_id)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AudienceMember:
    user_id: str
    score: float
    source: str
    matched_tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TagWeight:
    tag: str
    weight: float

    def to_dict(self) -> dict:
        return asdict(self)
