"""Alembic migrations of the recsys schema (see `recommender.storage.schema_version`).

Add one for every change to `recommender/storage/schema.py`:

    alembic revision --autogenerate -m "what changed"   # from the repository root

then review it, set its revision id to the next number (`0002_...`), and move
`schema_version.HEAD` to it. tests/test_storage_migrations.py fails until both agree with
schema.py.
"""
