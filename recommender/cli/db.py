"""`recsys db ...`: inspect the store and migrate its schema."""

from __future__ import annotations

import typer

from recommender.cli.output import number, print_json, print_table, say
from recommender.cli.state import state

app = typer.Typer(
    help="Inspect the database, or migrate its schema.\n\nExample: recsys db stats",
    no_args_is_help=True,
)


@app.command("stats")
def stats(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Counts of users, tracks, listens, tags, features, rejects, and the last ETL runs.

    Example: recsys db stats --json
    """
    from recommender.storage.stats import database_stats

    result = database_stats(state.engine)
    if as_json:
        print_json(result)
        return
    print_table("recsys database", ["what", "count"], result["counts"].items())
    print_table(
        "last ETL runs",
        ["run", "source", "status", "started", "in", "loaded", "rejected"],
        (
            [
                r["id"],
                r["source"],
                r["status"],
                r["started_at"],
                r["rows_in"],
                r["rows_loaded"],
                r["rows_rejected"],
            ]
            for r in result["last_runs"]
        ),
        empty="none yet (load data with `recsys etl demo`, `recsys etl csv` or"
        " `recsys etl lastfm-2k`)",
    )


@app.command("rejects")
def rejects(
    limit: int = typer.Option(
        50, "-n", "--top", min=0, metavar="N", help="Show at most N rows (newest first; 0 = all)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Quarantined input rows: file, physical line, reason and raw text.

    Example: recsys db rejects -n 20
    """
    from recommender.storage.stats import list_rejects

    result = list_rejects(state.engine, limit=limit or None)
    if as_json:
        print_json(result)
        return
    if not result["total"]:
        say("no rejects: every row loaded so far was accepted")
        return
    print_table(
        f"rejects ({number(result['total'])} in total, newest first)",
        ["run", "file", "line", "reason", "raw"],
        ([r["run_id"], r["file"], r["line"], r["reason"], r["raw"]] for r in result["rejects"]),
    )
    if result["by_reason"]:
        print_table("by reason", ["reason", "count"], result["by_reason"].items())


@app.command("upgrade")
def upgrade() -> None:
    """Migrate the database to this recsys's schema revision, keeping every row.

    Needed after installing a recsys whose schema changed: other commands refuse a database at
    an older revision until then. One transaction: an interrupted upgrade changes nothing.
    Back up the database first (a SQLite file: copy it while no command runs).

    Example: recsys db upgrade
    """
    from recommender.storage.engine import connect_engine
    from recommender.storage.schema_version import upgrade as upgrade_schema

    engine = connect_engine(state.settings.database_url)  # not state.engine: that one refuses
    try:
        before, after = upgrade_schema(engine)
    finally:
        engine.dispose()
    if before == after:
        say(f"database already at schema revision {after}")
    else:
        say(f"database upgraded from schema revision {before or 'none'} to {after}")
