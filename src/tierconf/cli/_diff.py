"""``tierconf diff -e A --against B``: what differs between two tiers, KEY by KEY."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tierconf.cli._app import config_options, overlay_options, run_guarded, tier_option


@click.command("diff")
@config_options
@tier_option()
@click.option("--against", metavar="TIER", required=True, help="The tier to compare with.")
@overlay_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(
    config_dir: Path | None,
    secrets_dir: Path | None,
    environment: str,
    against: str,
    tenant: str | None,
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    fmt: str,
) -> None:
    """Compare the configuration of two tiers (secrets shown as references or masks)."""

    def body() -> int:
        from tierconf.cli._common import build_request, open_tree  # noqa: PLC0415
        from tierconf.diffing import diff_views, flat_view  # noqa: PLC0415
        from tierconf.pipeline import resolve_config  # noqa: PLC0415
        from tierconf.tree import LayerReader  # noqa: PLC0415

        tree = open_tree(config_dir)
        reader = LayerReader(tree)
        left = resolve_config(tree, build_request(environment, tenant, values_files, sets), reader)
        right = resolve_config(tree, build_request(against, tenant, values_files, sets), reader)
        changes = diff_views(flat_view(left), flat_view(right))
        if fmt == "json":
            click.echo(json.dumps({"left": left.tier.value, "right": right.tier.value, "tenant": tenant,
                                   "changes": [c.to_json() for c in changes]}, indent=2))
            return 0
        click.echo(f"--- {left.tier.value}\n+++ {right.tier.value}")
        for change in changes:
            if change.left is not None:
                click.secho(f"- {change.key}={change.left}", fg="red")
            if change.right is not None:
                click.secho(f"+ {change.key}={change.right}", fg="green")
        click.echo(f"{len(changes)} KEYs differ")
        return 0

    run_guarded(body)
