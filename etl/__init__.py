"""Pipelines that fill the database: extract -> validate -> load, idempotent, rejects quarantined.

One module per step, in flow order:
    encoding   UTF-8 / Latin-1 detection, undecodable lines set aside
    reader     CSV/TSV/Parquet -> Arrow string columns + physical line numbers
    validate   vectorised row checks -> kept rows + rejects (file, line, reason, raw)
    normalize  normalize_tag: the one definition of a tag's spelling
    ingest     steps shared by sources: id mapping, folding duplicates, merges in order
    load       bulk staging (executemany / COPY) + INSERT ... SELECT ... ON CONFLICT
    runs       etl_runs lifecycle (running -> ok | failed | interrupted), RunSummary
    snapshot   loaded content by external id, for comparing loads
Sources: csv_source.load_csv (generic files), lastfm2k.load_lastfm_2k (HetRec 2011),
demo (synthetic catalogue), audio_scan (audio features).
"""
