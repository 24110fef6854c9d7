"""String id <-> contiguous index, saved with every model so indices never drift."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from recommender.errors import UnknownIdError, shown


@dataclass(frozen=True)
class Vocabulary:
    """An ordered set of external ids; position i is index i inside a model.

    `kind` ("user", "track", "tag") only makes error messages say what was unknown.
    """

    ids: np.ndarray  # 1-D unicode array ('<U'), savable with allow_pickle=False
    kind: str = "id"
    # A plain dict: built in milliseconds, and no pandas import on the serving path.
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids)
        if ids.dtype.kind != "U":
            ids = ids.astype(str)
        object.__setattr__(self, "ids", ids)
        index = {value: i for i, value in enumerate(ids.tolist())}
        if len(index) != len(ids):
            values, counts = np.unique(ids, return_counts=True)
            dupes = values[counts > 1][:3].tolist()
            raise ValueError(f"duplicate {self.kind} ids in vocabulary: {dupes}")
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_ids(cls, ids: Iterable[str], kind: str = "id") -> Vocabulary:
        return cls(np.asarray(list(ids), dtype=str), kind=kind)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, external_id: object) -> bool:
        return external_id in self._index

    def index_of(self, external_id: str) -> int:
        """The index of one id; an unknown id is a user error, not a KeyError."""
        index = self._index.get(external_id)
        if index is None:
            raise UnknownIdError(f"unknown {self.kind} {shown(external_id)}")
        return index

    def indices(self, external_ids: Iterable[str]) -> np.ndarray:
        """Index of each id; unknown ids map to -1."""
        get = self._index.get
        found = [get(str(value), -1) for value in external_ids]
        return np.asarray(found, dtype=np.int64)

    def id_of(self, index: int) -> str:
        return str(self.ids[index])

    def to_array(self) -> np.ndarray:
        return self.ids
