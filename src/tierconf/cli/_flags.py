"""``tierconf flags``: evaluate one flag for a context, list the flags of every tier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tierconf.cli._app import config_options, overlay_options, run_guarded, tier_option

if TYPE_CHECKING:
    from tierconf.flags import Resolution
    from tierconf.pipeline import ResolvedConfig
    from tierconf.schema._flags import FlagDefinition


@click.group("flags")
def flags_command() -> None:
    """Evaluate and list feature flags."""


def _parse_attrs(pairs: tuple[str, ...]) -> dict[str, str]:
    from tierconf.errors import UsageError

    attributes: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--attr expects NAME=VALUE, got {pair!r}")
        attributes[name.strip()] = value
    return attributes


def _unknown_flag(name: str, known: list[str]) -> Exception:
    import difflib

    from tierconf.errors import UsageError

    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return UsageError(f"unknown flag {name!r}{hint} (known flags: {', '.join(known) or 'none'})")


def _describe(name: str, flag: FlagDefinition, resolution: Resolution, bucket: int | None) -> str:
    if flag.kind == "bool" and not flag.variants:
        shown = "on" if resolution.value is True else "off"
    else:
        shown = json.dumps(resolution.value, ensure_ascii=False)
    detail = f"variant {resolution.variant}, reason {resolution.reason}"
    if bucket is not None and resolution.reason == "split":
        detail += f", bucket {bucket} of 10000, rollout below {flag.rollout_percent * 100:g}"
    return f"{name}: {shown} ({detail})"


@flags_command.command("evaluate")
@click.argument("flag")
@config_options
@tier_option()
@overlay_options
@click.option("--user", help="User id (the sticky bucket is of flag:tenant:user).")
@click.option(
    "--attr",
    "attrs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Context attribute for constraints (country=SE, app_version=2.3.0); repeatable.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def evaluate_command(
    flag: str,
    config_dir: Path | None,
    secrets_dir: Path | None,
    environment: str,
    tenant: str | None,
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    user: str | None,
    attrs: tuple[str, ...],
    fmt: str,
) -> None:
    """Evaluate FLAG for a tier, tenant (its plan comes from its tenant file) and user."""

    def body() -> int:
        from datetime import UTC, datetime

        from tierconf.cli._common import build_request, open_tree
        from tierconf.flags import bucket, evaluate
        from tierconf.pipeline import resolve_config

        attributes: dict[str, Any] = _parse_attrs(attrs)
        tree = open_tree(config_dir)
        resolved = resolve_config(tree, build_request(environment, tenant, values_files, sets))
        flags = resolved.config.flags
        definition = flags.get(flag)
        if definition is None:
            raise _unknown_flag(flag, sorted(flags))
        if any(c.attribute == "current_time" for c in definition.constraints):
            attributes.setdefault("current_time", datetime.now(UTC).isoformat(timespec="seconds"))
        resolution = evaluate(
            flags, flag, tenant=tenant, user=user, plan=resolved.plan, attributes=attributes
        )
        slot = bucket(flag, tenant, user)
        if fmt == "json":
            document = {
                "flag": flag,
                "environment": resolved.tier.value,
                "tenant": tenant,
                "user": user,
                "plan": resolved.plan,
                "attributes": attributes,
                "value": resolution.value,
                "variant": resolution.variant,
                "reason": resolution.reason,
                "error_code": resolution.error_code,
                "bucket": slot,
            }
            click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        else:
            click.echo(_describe(flag, definition, resolution, slot))
        return 0

    run_guarded(body)


def _tier_flags(tree: Any, tiers: list[Any]) -> dict[str, ResolvedConfig | None]:
    from tierconf.errors import TierconfError
    from tierconf.pipeline import ConfigRequest, resolve_config
    from tierconf.tree import LayerReader

    reader = LayerReader(tree)
    found: dict[str, ResolvedConfig | None] = {}
    for tier in tiers:
        try:
            found[tier.value] = resolve_config(tree, ConfigRequest(tier), reader)
        except TierconfError:
            found[tier.value] = None
    return found


def _state(flag: FlagDefinition | None) -> str:
    if flag is None:
        return "-"
    if not flag.enabled or flag.rollout_percent <= 0:
        return "off"
    if flag.rollout_percent >= 100:
        return "on"
    return f"{flag.rollout_percent:g}%"


@flags_command.command("list")
@config_options
@tier_option()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_command(config_dir: Path | None, secrets_dir: Path | None, environment: str, fmt: str) -> None:
    """List the flags: state in every tier, rollout, owner and expiry for TIER."""

    def body() -> int:
        from datetime import date

        from tierconf.cli._common import open_tree
        from tierconf.pipeline import ConfigRequest, resolve_config
        from tierconf.tiers import ALL_TIERS, EnvironmentTier

        tier = EnvironmentTier.parse(environment)
        tree = open_tree(config_dir)
        # The selected tier must resolve (its errors are the user's to fix); others may not.
        selected = resolve_config(tree, ConfigRequest(tier))
        others = _tier_flags(tree, [t for t in ALL_TIERS if t is not tier])
        per_tier = {**others, tier.value: selected}
        tier_names = [t.value for t in ALL_TIERS]
        today = date.today().isoformat()
        rows = []
        for name, flag in selected.config.flags.items():
            states = {
                t: (_state(r.config.flags.get(name)) if r is not None else "error")
                for t, r in ((t, per_tier[t]) for t in tier_names)
            }
            rows.append(
                {
                    "flag": name,
                    "kind": flag.kind,
                    "states": states,
                    "rollout_percent": flag.rollout_percent,
                    "enabled": flag.enabled,
                    "owner": flag.owner,
                    "expires": flag.expires or None,
                    "expired": bool(flag.expires) and flag.expires < today,
                    "description": flag.description,
                }
            )
        if fmt == "json":
            click.echo(json.dumps({"environment": tier.value, "flags": rows}, indent=2, ensure_ascii=False))
            return 0
        _print_table(rows, tier_names, tier.value)
        return 0

    run_guarded(body)


_SHORT = {"local": "local", "development": "dev", "staging": "stg", "production": "prod"}


def _print_table(rows: list[dict[str, Any]], tier_names: list[str], selected: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Feature flags ({selected})", header_style="bold")
    table.add_column("flag", no_wrap=True)
    for name in tier_names:
        header = _SHORT.get(name, name)
        table.add_column(header, style="bold" if name == selected else None, justify="center", no_wrap=True)
    table.add_column("rollout", justify="right", no_wrap=True)
    table.add_column("owner", no_wrap=True)
    table.add_column("expires", no_wrap=True)
    for row in rows:
        expires = row["expires"] or ""
        if row["expired"]:
            expires = f"[red]{expires} (expired)[/]"
        rollout = f"{row['rollout_percent']:g}%" if row["enabled"] else "disabled"
        table.add_row(row["flag"], *(row["states"][t] for t in tier_names), rollout, row["owner"], expires)
    # A pipe gets the whole table rather than rich's 80-column default with cut cells.
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=200)
    console.print(table)
