"""``tierconf explain KEY_OR_PATH -e TIER [--tenant ID]``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tierconf.cli._app import config_options, overlay_options, run_guarded, tier_option


@click.command("explain")
@click.argument("key_or_path")
@config_options
@tier_option()
@overlay_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(
    key_or_path: str,
    config_dir: Path | None,
    secrets_dir: Path | None,
    environment: str,
    tenant: str | None,
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    fmt: str,
) -> None:
    """Show a setting's value, the layer and file:line that set it, and the override chain."""

    def body() -> int:
        from tierconf.cli._common import build_request, open_tree
        from tierconf.explain import explain
        from tierconf.pipeline import resolve_config

        tree = open_tree(config_dir)
        resolved = resolve_config(tree, build_request(environment, tenant, values_files, sets))
        result = explain(resolved, key_or_path)
        if fmt == "json":
            click.echo(json.dumps(result.to_json(), indent=2))
            return 0
        spec = result.spec
        target = resolved.tier.value + (f"/{resolved.tenant}" if resolved.tenant else "")
        facts = [spec.type.describe()]
        if spec.meta.unit:
            facts.append(f"unit: {spec.meta.unit}")
        facts.append("secret" if spec.secret else "not secret")
        facts.append("tenant-overridable" if spec.meta.tenant else "not tenant-overridable")
        click.echo(f"{spec.key}  {spec.path}  [{target}]")
        click.echo(f"  {spec.meta.description}")
        click.echo(f"  {'; '.join(facts)}")
        winner = result.chain[-1]
        click.echo(f"value: {result.value}    (set by {winner.where})")
        click.echo("override chain (lowest precedence first):")
        width = max(len(step.where) for step in result.chain)
        for index, step in enumerate(result.chain, 1):
            mark = "  <- wins" if index == len(result.chain) else ""
            click.echo(f"  {index}. {step.where.ljust(width)}  {step.value}{mark}")
        return 0

    run_guarded(body)
