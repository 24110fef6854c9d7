"""Hybrid ranking: blend CF with content, re-rank, explain, and the HybridRecommender API."""
