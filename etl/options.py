"""The ETL sources' fixed choices, light so the CLI lists them in its help without
importing the pipelines (pandas, pyarrow, SQLAlchemy)."""

# etl lastfm-2k: what to do with a tagged artist missing from artists.dat
UNKNOWN_ARTISTS = ("create", "reject")
