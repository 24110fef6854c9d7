"""A throw-away PostgreSQL schema: tests and benchmarks never touch anyone else's tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def scratch_schema(base_url: str, *, prefix: str = "recsys_scratch") -> Iterator[str]:
    """Yield `base_url` scoped to a fresh schema (via search_path); drop the schema afterwards.

    Raises whatever the driver raises when the server cannot be reached, before yielding,
    so callers decide whether that is a skip, a failure or a note.
    """
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except BaseException:
        admin.dispose()
        raise
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
