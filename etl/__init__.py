"""Pipelines that fill the database: extract -> validate -> load, idempotent, rejects quarantined."""
