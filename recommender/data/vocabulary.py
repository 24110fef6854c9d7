"""String id <-> contiguous index, saved with every model so indices never drift."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recommender.errors import UnknownIdError


@dataclass(frozen=True)
class Vocabulary:
    """An ordered set of external ids; position i is index i inside a model.

    `kind` ("user", "track", "tag") only makes error messages say what was unknown.
    """

    ids: np.ndarray  # 1-D unicode array ('<U'), savable with allow_pickle=False
    kind: str = "id"
    _index: pd.Index = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids).astype(str)
        object.__setattr__(self, "ids", ids)
        index = pd.Index(ids)
        if not index.is_unique:
            dupes = index[index.duplicated()].unique()[:3].tolist()
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
        try:
            return int(self._index.get_loc(external_id))
        except KeyError:
            raise UnknownIdError(f"unknown {self.kind} {external_id!r}") from None

    def indices(self, external_ids: Iterable[str]) -> np.ndarray:
        """Vectorised lookup; unknown ids map to -1."""
        return self._index.get_indexer(np.asarray(list(external_ids), dtype=str))

    def id_of(self, index: int) -> str:
        return str(self.ids[index])

    def to_array(self) -> np.ndarray:
        return self.ids
