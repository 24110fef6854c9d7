"""What `recsys tune` can search and how long by default: names only, so the CLI's help and
option checks need not import the tuner (numpy, scipy, SQLAlchemy, Optuna)."""

from __future__ import annotations

TARGETS = ("als", "bpr", "knn", "rp3beta", "hybrid")
DEFAULT_TRIALS = 30
