"""The JSON the API takes and gives (pydantic models, published in the OpenAPI spec).

Result items have the fields of `recsys recommend --json` (`Recommendation.to_dict`),
so the CLI and the API answer in the same words.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_N = 1000
MAX_VISITOR_TRACKS = 500
MAX_TAGS = 50
MAX_TAG_FILTER = 10


class ErrorDetail(BaseModel):
    code: str
    message: str
    hint: str = ""


class ErrorBody(BaseModel):
    error: ErrorDetail


class MatchedTag(BaseModel):
    tag: str
    origin: str
    weight: float


class Explanation(BaseModel):
    tags: list[MatchedTag] = []
    close_to: list[str] = []


class Item(BaseModel):
    item_id: str
    title: str
    artist: str
    score: float
    source: str = Field(
        description='"cf", "content" or "hybrid": what dominates the score; "audio" for'
        " a cold track's sound-alikes (CNN embeddings)"
    )
    explanation: Explanation | None = None


class ItemList(BaseModel):
    model_version: str
    items: list[Item]


class AudienceMember(BaseModel):
    user_id: str
    score: float
    source: str
    matched_tags: list[str] = []


class Audience(BaseModel):
    model_version: str
    users: list[AudienceMember]


class TagWeight(BaseModel):
    tag: str
    weight: float


class UserTags(BaseModel):
    model_version: str
    tags: list[TagWeight]


class Visitor(BaseModel):
    """A listener without an account: tags they chose and/or tracks they played."""

    tags: list[str] = Field(default=[], max_length=MAX_TAGS, examples=[["jazz", "piano"]])
    tracks: list[str] = Field(default=[], max_length=MAX_VISITOR_TRACKS)
    n: int = Field(default=10, ge=1, le=MAX_N)
    explain: bool = False


class Listen(BaseModel):
    """One play event; values are checked like a listens file (bad rows come back)."""

    user: str | int
    track: str | int
    timestamp: str | int = Field(description="Unix seconds or ISO-8601 (naive = UTC)")
    count: int | str | None = Field(default=None, description="plays at that time (default 1)")


class Listens(BaseModel):
    listens: list[Listen] = Field(max_length=10_000)


class RejectedRow(BaseModel):
    row: int = Field(description="0-based position in `listens`")
    reason: str
    value: str


class ListensResult(BaseModel):
    received: int
    added: int = Field(description="new play events stored")
    duplicates: int = Field(description="events already stored (a retried request adds nothing)")
    rejected: list[RejectedRow]
    users_updated: list[str]


class PredictedTag(BaseModel):
    tag: str
    probability: float
    predicted: bool = Field(description="probability passes the tag's tuned threshold")


class Tagged(BaseModel):
    model_version: str
    tags: list[PredictedTag]
    # how unlike the tagger's training audio the upload is; null for taggers from before it
    novelty: float | None = None
    in_distribution: bool | None = None


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    model_version: str
    database: str
