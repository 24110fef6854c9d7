"""Offline evaluation: splitters, metrics, baselines, the evaluation runner and reports."""
