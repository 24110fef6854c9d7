"""`make bench`: the project's benchmarks, one module per stage, one results table."""
