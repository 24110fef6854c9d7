"""Offline evaluation: the runner (every model ranked by its own `recommend`, the serving
path), ranking metrics and reports. Splits live in `recommender.data.splits`."""
