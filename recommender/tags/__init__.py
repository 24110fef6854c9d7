"""Per-user tag profiles and item content vectors in one IDF-weighted tag space."""
