"""Entry point of `recsys`: global options, command registration and error handling.

Every failure ends as one line on stderr with exit code 1 (runtime) or 2 (usage
or input); set RECSYS_DEBUG=1 to see the traceback of an unexpected error. A notice
from the core (a `RecsysWarning`, e.g. a fallback synthesizer) is one `warning: ...`
line on stderr, once per run.
"""

from __future__ import annotations

import errno
import os
import sys
import warnings

import typer

from recommender.cli.group import GLOBAL_PANEL, RecsysGroup
from recommender.cli.output import err_console
from recommender.cli.state import state
from recommender.errors import RecsysError, RecsysWarning, is_no_space

app = typer.Typer(
    name="recsys",
    cls=RecsysGroup,
    help="Hybrid music recommender: ETL, audio auto-tagging, collaborative filtering.\n\n"
    "Example: recsys etl demo && recsys train && recsys recommend --user user-0001 --explain",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version() -> str:
    """The installed distribution's version; the package's own in a bare source tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recsys")
    except PackageNotFoundError:
        from recommender import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"recsys {_version()}")
        raise typer.Exit()


@app.callback()
def _global_options(
    home: str | None = typer.Option(
        None,
        "--home",
        metavar="DIR",
        rich_help_panel=GLOBAL_PANEL,
        help=(
            "State folder (database, models, demo audio). Default: $RECSYS_HOME, else the"
            " nearest .recsys folder in the current folder or above it (as git finds .git),"
            " else ./.recsys."
        ),
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        metavar="URL",
        rich_help_panel=GLOBAL_PANEL,
        help="SQLAlchemy URL (default $RECSYS_DATABASE_URL or SQLite in home).",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", rich_help_panel=GLOBAL_PANEL, help="No progress bars."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        expose_value=False,
        callback=_print_version,
        help="Print the version and exit.",
    ),
) -> None:
    # Global options are accepted after any command too (RecsysGroup copies them there).
    state.update(home=home, database_url=database_url, quiet=quiet)


def _register_commands() -> None:
    # Command modules import only typer and rich at module level; heavy work is lazy.
    # The root help lists commands in workflow order (group.COMMAND_ORDER), not this order.
    from recommender.cli import db as db_commands
    from recommender.cli import etl as etl_commands
    from recommender.cli import evaluate as evaluate_commands
    from recommender.cli import explore as explore_commands
    from recommender.cli import recommend as recommend_commands
    from recommender.cli import serve as serve_commands
    from recommender.cli import tag as tag_commands
    from recommender.cli import train as train_commands
    from recommender.cli import tune as tune_commands

    app.add_typer(etl_commands.app, name="etl")
    app.add_typer(db_commands.app, name="db")
    app.add_typer(train_commands.app, name="train")
    app.command("recommend")(recommend_commands.recommend)
    app.command("similar")(explore_commands.similar)
    app.command("audience")(explore_commands.audience)
    app.command("search")(explore_commands.search)
    app.command("user-tags")(explore_commands.user_tags)
    app.command("tag")(tag_commands.tag_command)
    app.command("evaluate")(evaluate_commands.evaluate)
    app.command("tune")(tune_commands.tune)
    app.command("serve")(serve_commands.serve)


_register_commands()


def _fail(message: str, code: int, details: tuple[str, ...] = ()) -> None:
    first_line = (message.strip().splitlines() or [""])[0]
    err_console.print(f"error: {first_line}", markup=False, highlight=False, soft_wrap=True)
    for line in details:  # e.g. the ids an ambiguous name could mean, one a line
        err_console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)


def _usage_hint(exc: typer.TyperException) -> str:
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "recsys"
    message = exc.format_message().replace("Value error, ", "")  # typer's validator prefix
    return f"{message} (see '{command} --help')"


def _is_database_error(exc: Exception) -> bool:
    # sqlalchemy is imported only by commands that use the database (it costs 0.17 s)
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.DBAPIError)


def _database_url() -> str | None:
    try:
        return state.settings.database_url
    except Exception:  # describing a failure must never fail
        return None


def _os_error(exc: OSError) -> str:
    """A file the command could not write or read: which, and why, in one line."""
    if is_no_space(exc):
        return f"no space left on device writing {exc.filename}; free space and rerun"
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        return (
            f"cannot write {exc.filename}: {exc.strerror} (read-only?);"
            " make it writable or use another --home"
        )
    return f"{exc.filename}: {exc.strerror or type(exc).__name__}"


_show_other_warnings = warnings.showwarning
_shown: set[str] = set()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if not issubclass(category, RecsysWarning):
        _show_other_warnings(message, category, filename, lineno, file, line)
    elif str(message) not in _shown:  # (the "once" filter forgets whenever filters change)
        _shown.add(str(message))
        err_console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, mapping every expected failure to one line and an exit code."""
    warnings.showwarning = _show_warning
    warnings.filterwarnings("always", category=RecsysWarning)  # _show_warning says each once
    try:
        code = app(args=argv, prog_name="recsys", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors and bad option values: exit 2
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # a bare group prints its help, as click does
            sys.exit(exc.exit_code)
        _fail(_usage_hint(exc), exc.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    except RecsysError as exc:
        _fail(str(exc), exc.exit_code, getattr(exc, "candidates", ()))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # a database failure, or a bug: one line, traceback on request
        if os.environ.get("RECSYS_DEBUG"):
            raise
        if _is_database_error(exc):
            from recommender.storage.failures import describe

            orig = exc.orig
            _fail(
                describe(exc, _database_url())
                or f"database error: {str(orig).strip() or type(orig).__name__}"
                " (check RECSYS_DATABASE_URL)",
                1,
            )
        if isinstance(exc, OSError) and exc.filename is not None:
            _fail(_os_error(exc), 1)
        _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with RECSYS_DEBUG=1 for details)", 1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
