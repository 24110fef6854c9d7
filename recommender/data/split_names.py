"""The names of the splits `recommender.data.splits.make_split` knows (light: for CLI help)."""

SPLITS = ("random", "leave-k-out", "time", "cold-items", "cold-users")
COLD_UNITS = ("item", "artist")  # what the cold-items split makes cold: single tracks or artists
