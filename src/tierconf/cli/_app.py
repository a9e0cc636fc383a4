"""The command group, shared options, and the one place errors become exit codes.

Commands import the pipeline lazily inside their bodies so that ``tierconf --help`` stays
fast (no pydantic, no rich until a command needs them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any, TypeVar

import click

from tierconf.errors import InvalidConfigurationError, TierconfError

F = TypeVar("F", bound=Callable[..., Any])

#: Command name -> module that defines it (loaded only when the command runs or --help lists it).
_COMMANDS = {
    "generate": "tierconf.cli._generate",
    "validate": "tierconf.cli._validate",
    "explain": "tierconf.cli._explain",
    "diff": "tierconf.cli._diff",
    "init": "tierconf.cli._init",
    "schema": "tierconf.cli._schema",
    "release": "tierconf.cli._versioning",
    "history": "tierconf.cli._versioning",
    "show": "tierconf.cli._versioning",
    "rollback": "tierconf.cli._versioning",
    "audit": "tierconf.cli._versioning",
    "deploy": "tierconf.cli._delivery",
    "drift": "tierconf.cli._delivery",
    "flags": "tierconf.cli._flags",
}


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        available = {name for name, module in _COMMANDS.items() if _module_exists(module)}
        return sorted({*super().list_commands(ctx), *available})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = _COMMANDS.get(cmd_name)
        if module_name is None:
            return super().get_command(ctx, cmd_name)
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None  # a command whose module is not part of this build
        # A module may define several commands: ``command`` or ``<name>_command``.
        command = getattr(module, f"{cmd_name}_command", None) or getattr(module, "command", None)
        return command if isinstance(command, click.Command) else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing commands must not import them all: use the one-line summaries below.
        rows = [(name, _SUMMARIES.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _module_exists(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


_SUMMARIES = {
    "generate": "Render ConfigMaps and Secrets for a tier (and tenant).",
    "validate": "Check the configuration: schema, rules, secrets.",
    "explain": "Show which layer set a setting, with file:line and the override chain.",
    "diff": "Compare two tiers (or two revisions), secrets masked.",
    "init": "Copy the bundled config tree to a directory to start from.",
    "schema": "Export the JSON Schema of layer files for editors.",
    "release": "Record a revision of a tier's rendered configuration.",
    "history": "List the revisions of a tier.",
    "show": "Show one revision.",
    "rollback": "Record a new revision with an older revision's content.",
    "audit": "Verify or list the tamper-evident audit trail.",
    "deploy": "Deliver a tier to a directory, Kubernetes or etcd.",
    "drift": "Compare the desired configuration with the live target.",
    "flags": "Evaluate and list feature flags.",
}


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` to stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def run_guarded(func: Callable[[], int | None]) -> None:
    """Run a command body, turning TierconfError into one line per problem and its exit code."""
    try:
        code = func()
    except InvalidConfigurationError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(exc.exit_code)
    except TierconfError as exc:
        fail(str(exc), exc.exit_code)
    else:
        sys.exit(code or 0)


def config_options(func: F) -> F:
    """The options every command that reads the config tree takes."""
    func = click.option(
        "--secrets-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Directory with one file per secret KEY.",
    )(func)
    return click.option(
        "-c",
        "--config-dir",
        type=click.Path(path_type=Path),
        help="Config tree (default: the bundled Spotify AI Agent tree).",
    )(func)


def overlay_options(func: F) -> F:
    """--tenant, --values and --set."""
    func = click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override one setting (flat KEY or dotted path); repeatable, last wins.",
    )(func)
    func = click.option(
        "--values",
        "values_files",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Extra layer file applied after the tenant; repeatable.",
    )(func)
    return click.option("--tenant", help="Tenant id (a file under tenants/).")(func)


def tier_option(required: bool = True) -> Callable[[F], F]:
    """-e/--environment TIER."""
    return click.option(
        "-e",
        "--environment",
        "environment",
        required=required,
        metavar="TIER",
        help="local, development (dev), staging (stg), production (prod).",
    )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tierconf", prog_name="tierconf")
def cli() -> None:
    """tierconf: typed, layered, validated configuration for Kubernetes platforms."""


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="tierconf")
