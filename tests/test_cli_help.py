"""`recsys --help` reads like a manual: every command and option, as a user runs them.

The command tree is walked in-process (to know every command and option there is);
what a user sees is checked by running `recsys ... --help` in a real process.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import typer
from typer.core import TyperArgument, TyperOption

import recommender
from recommender.cli.app import app
from recommender.cli.group import walk
from tests.conftest import run_cli

WORKFLOW = [
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
]
GLOBAL_OPTIONS = {"--home", "--database-url", "--quiet", "-q"}
PYTHON_TYPE = re.compile(r"<[A-Za-z][\w\[\], |.-]*>")  # <str>, <list[Path]>, <int range>, <a|b>
WORD = re.compile(r"[A-Z][A-Z_]*")  # N, FILE, SEED, ...


def _tree() -> list[tuple[tuple[str, ...], typer.core.TyperCommand]]:
    root = typer.main.get_command(app)
    root.get_params(typer.Context(root, info_name="recsys"))  # the group prepares the tree
    return list(walk(root))


TREE = _tree()
PATHS = [path for path, _ in TREE]
CHOICES = [
    (path, max(param.opts, key=len), tuple(param.type_descriptor.choices))
    for path, command in TREE
    for param in command.params
    if isinstance(param, TyperOption) and param.type_descriptor.is_choice
]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
    env["RECSYS_HOME"] = str(tmp_path_factory.mktemp("home"))
    env["TERMINAL_WIDTH"] = "160"  # one help row per option, so a row can be read whole
    return env


_HELP: dict[tuple[str, ...], str] = {}


def _help(path: tuple[str, ...], env: dict[str, str]) -> str:
    """`recsys PATH --help` as printed (run once per command)."""
    if path not in _HELP:
        result = run_cli([*path, "--help"], env)
        assert result.returncode == 0, result.stderr
        _HELP[path] = result.stdout
    return _HELP[path]


def test_tree_has_every_command():
    assert {path[0] for path in PATHS if path} >= set(WORKFLOW) - {"search"}
    assert {("etl", "csv"), ("etl", "lastfm-2k"), ("etl", "demo"), ("etl", "audio")} <= set(PATHS)
    assert {("db", "stats"), ("db", "rejects"), ("train", "tagger")} <= set(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "recsys")
def test_every_parameter_names_its_value_in_words(path):
    command = dict(TREE)[path]
    for param in command.params:
        name = "/".join(param.opts)
        if isinstance(param, TyperArgument):
            assert WORD.fullmatch(param.metavar or ""), f"argument {param.name} needs a metavar"
        elif param.is_flag:
            assert param.metavar == "", name
        else:
            assert WORD.fullmatch(param.metavar or ""), f"{name} needs a metavar such as N"


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "recsys")
def test_help_shows_no_python_types_an_example_and_the_global_options(path, env):
    text = _help(path, env)
    assert not PYTHON_TYPE.findall(text)
    assert re.search(rf"Example: .*\brecsys {' '.join(path)}", text), text
    assert all(option in text for option in GLOBAL_OPTIONS)


def test_root_help_lists_commands_in_workflow_order(env):
    text = _help((), env)
    panel = text[text.index("Commands") :]
    listed = re.findall(r"^│ ([a-z][\w-]*) ", panel, flags=re.MULTILINE)
    assert listed == [name for name in WORKFLOW if name in listed]
    assert set(WORKFLOW) - {"search"} <= set(listed)


def test_how_many_is_n_or_top_everywhere():
    counts = {
        path: param.opts
        for path, command in TREE
        for param in command.params
        if {"-n", "--top", "-k", "--k", "--limit"} & set(param.opts)
    }
    assert set(counts) >= {
        ("recommend",),
        ("similar",),
        ("audience",),
        ("user-tags",),
        ("tag",),
        ("evaluate",),
        ("db", "rejects"),
    }
    assert all(opts == ["-n", "--top"] for opts in counts.values()), counts


def test_every_choice_is_listed_in_its_help(env):
    assert len(CHOICES) >= 10  # --model (x2), --tagger, --engine (x3), --split, ...
    for path, option, choices in CHOICES:
        text = _help(path, env)
        row = next(line for line in text.splitlines() if line.startswith(f"│ {option} "))
        assert all(choice in row for choice in choices), (path, option, row)


@pytest.mark.parametrize(("path", "option", "choices"), CHOICES, ids=lambda x: str(x))
def test_an_unknown_choice_is_one_line_naming_the_valid_ones(path, option, choices, env):
    result = run_cli([*path, option, "bogus"], env)
    assert result.returncode == 2
    valid = ", ".join(repr(choice) for choice in choices)
    assert result.stderr.splitlines() == [
        f"error: Invalid value for '{option}': 'bogus' is not one of {valid}."
        f" (see 'recsys {' '.join(path)} --help')"
    ]


def test_unknown_artists_error_names_the_option(env, tmp_path):
    result = run_cli(["etl", "lastfm-2k", str(tmp_path), "--unknown-artists", "maybe"], env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--unknown-artists': 'maybe' is not one of"
        " 'create', 'reject'. (see 'recsys etl lastfm-2k --help')"
    ]


def test_unknown_artists_error_from_the_python_api_names_the_option(tmp_path):
    from etl.lastfm2k import FILES, load_lastfm_2k
    from recommender.errors import InputError

    for name in FILES:
        (tmp_path / name).write_text("")
    with pytest.raises(InputError) as raised:
        load_lastfm_2k(None, tmp_path, unknown_artists="maybe")
    assert str(raised.value) == "--unknown-artists must be 'create' or 'reject', not 'maybe'"


def test_missing_argument_is_named_by_its_metavar(env):
    result = run_cli(["etl", "lastfm-2k"], env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: Missing argument 'DIR'. (see 'recsys etl lastfm-2k --help')"
    ]


def test_version(env):
    result = run_cli(["--version"], env)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == f"recsys {recommender.__version__}\n"


def test_version_falls_back_to_the_package_in_a_bare_source_tree(monkeypatch):
    import importlib.metadata

    from recommender.cli.app import _version

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert _version() == recommender.__version__


def test_global_options_after_the_command(env, tmp_path):
    listens = tmp_path / "plays.csv"
    listens.write_text("user,track,count\nu1,t1,3\nu1,t2,1\nu2,t1,2\n")
    home = tmp_path / "late-home"
    loaded = run_cli(
        ["etl", "csv", "--home", str(home), "--listens", str(listens), "-q", "--json"], env
    )
    assert loaded.returncode == 0, loaded.stderr
    assert (home / "recsys.db").is_file()
    assert not (Path(env["RECSYS_HOME"]) / "recsys.db").exists()

    stats = run_cli(["db", "stats", "--json", "--home", str(home)], env)
    assert '"listens": 3' in stats.stdout

    url_file = tmp_path / "by-url.db"
    by_url = run_cli(["db", "stats", "--database-url", f"sqlite:///{url_file}"], env)
    assert by_url.returncode == 0 and url_file.is_file()

    first, last = tmp_path / "first", tmp_path / "last"  # the one given last wins
    both = run_cli(["--home", str(first), "db", "stats", "--home", str(last)], env)
    assert both.returncode == 0 and (last / "recsys.db").is_file() and not first.exists()


def test_train_accepts_quiet_after_the_command(env):
    result = run_cli(["train", "-q"], env)
    assert "No such option" not in result.stderr
    assert result.returncode == 2
    assert "the database has no listens to train on" in result.stderr
