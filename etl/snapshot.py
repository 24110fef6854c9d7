"""The loaded content as users see it (external ids, no internal keys), for comparing loads.

Internal integer ids depend on load history (a crashed PostgreSQL transaction still
consumes sequence values), so "same data" means same content by external id: this is
what idempotence and crash-recovery checks compare.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

_QUERIES = {
    "users": "SELECT external_id FROM users",
    "tracks": "SELECT external_id, title, artist, audio_path FROM tracks",
    "listens": (
        "SELECT u.external_id, t.external_id, l.play_count, l.last_played FROM listens l "
        "JOIN users u ON u.id = l.user_id JOIN tracks t ON t.id = l.track_id"
    ),
    "listen_events": (
        "SELECT u.external_id, t.external_id, e.played_at FROM listen_events e "
        "JOIN users u ON u.id = e.user_id JOIN tracks t ON t.id = e.track_id"
    ),
    "tags": "SELECT name FROM tags",
    "tag_assignments": (
        "SELECT u.external_id, t.external_id, g.name, a.tagged_at FROM tag_assignments a "
        "JOIN users u ON u.id = a.user_id JOIN tracks t ON t.id = a.track_id "
        "JOIN tags g ON g.id = a.tag_id"
    ),
    "rejects": "SELECT file, line, reason, raw FROM rejects",
}


def content_snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every loaded table as a sorted list of rows keyed by external ids."""
    with engine.connect() as conn:
        return {
            name: sorted((tuple(row) for row in conn.execute(text(sql))), key=repr)
            for name, sql in _QUERIES.items()
        }
