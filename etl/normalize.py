"""Tag and id normalisation, in one place so ETL, models and queries agree on spelling.

`normalize_tag` (recommender.tags.normalize) is the definition; `normalize_tags`
applies it to an Arrow column by
normalising only the distinct values (tag vocabularies are small even when the
assignment log is huge), so both paths give byte-identical results.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from recommender.tags.normalize import normalize_tag


def normalize_tags(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`normalize_tag` over a string column, evaluated once per distinct value."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    dictionary = encoded.dictionary.to_pylist()
    normalised = pa.array([normalize_tag(v) for v in dictionary], type=pa.string())
    return pc.take(normalised, encoded.indices)
