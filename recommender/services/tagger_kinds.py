"""The tagger kinds `recsys train --tagger`, `train tagger --model` and `evaluate --taggers`
accept: light, so the CLI lists them in its help without importing the training code."""

from __future__ import annotations

from recommender.core.registry import names
from recommender.errors import InputError, shown

CNN = "cnn"  # the kind that learns from spectrograms, not stored song vectors


def tagger_kinds() -> tuple[str, ...]:
    """The song-vector taggers of the registry, then the CNN."""
    return (*names("tagger"), CNN)


def check_kind(kind: str) -> None:
    """An unknown tagger kind is a usage error before any work."""
    if kind not in tagger_kinds():
        raise InputError(f"unknown tagger {shown(kind)}; choose one of {', '.join(tagger_kinds())}")
