"""The `recsys` command tree as a person reads it: commands in workflow order, global
options accepted after any command, and help that names values in words.

`RecsysGroup` is the root group's class. Before the root parses anything it prepares the
whole tree once:
- each option of the root's "Global options" panel (`--home`, `--database-url`, `-q`) is
  copied into every command and subgroup, so `recsys train -q` and
  `recsys etl csv --home X ...` work; the copy stores a value given on the line in the
  CLI state after the root's callback did, so the option given last wins;
- typer prints a Python type (`<bool>`, `<list[Path]>`) where a parameter has no metavar,
  and beside an argument's metavar: flags get an empty metavar, and an argument shows its
  metavar alone. Every option that takes a value declares its own metavar (N, FILE, ...);
  tests/test_cli_help.py walks the tree to keep it so.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from recommender.cli.state import state

GLOBAL_PANEL = "Global options"

# Root help order: the workflow, from loading data to serving it. A command missing here is
# listed after these, in registration order; adding one is adding its name here.
COMMAND_ORDER = (
    "etl",
    "db",
    "tune",
    "train",
    "recommend",
    "similar",
    "audience",
    "search",
    "user-tags",
    "tag",
    "evaluate",
    "serve",
)


class _Argument(TyperArgument):
    """An argument whose help shows its metavar (FILE) and not also its type (<list[Path]>)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (command path, command) of the tree under `command`, itself first."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, (*path, name))


class RecsysGroup(TyperGroup):
    """The root group: workflow order, global options everywhere, metavars in words."""

    _prepared = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        registered = super().list_commands(ctx)
        ordered = [name for name in COMMAND_ORDER if name in registered]
        return ordered + [name for name in registered if name not in ordered]

    def get_params(self, ctx: typer.Context) -> list[Any]:
        if not self._prepared:
            self._prepared = True
            self._prepare_tree(ctx)
        return super().get_params(ctx)

    def _prepare_tree(self, ctx: typer.Context) -> None:
        shared = [p for p in self.params if getattr(p, "rich_help_panel", None) == GLOBAL_PANEL]
        for path, command in walk(self):
            if path:
                taken = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
                command.params.extend(
                    self._late_copy(p) for p in shared if not taken.intersection(p.opts)
                )
            for param in [*command.params, command.get_help_option(ctx)]:
                _humanise(param)

    @staticmethod
    def _late_copy(option: TyperOption) -> TyperOption:
        """`option` for a command below the root: not passed to the command function; a
        value given on the line goes to the CLI state."""
        late = copy.copy(option)
        late.expose_value = False
        late.callback = _store
        return late


def _store(ctx: typer.Context, param: Any, value: Any) -> Any:
    if value != param.default:
        state.update(**{param.name: value})
    return value


def _humanise(param: Any) -> None:
    if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
        param.metavar = ""  # a flag takes no value: no <bool>
    elif isinstance(param, TyperArgument) and type(param) is TyperArgument:
        param.__class__ = _Argument
