"""``tierconf diff``: two tiers KEY by KEY (``-e A --against B``), or two revisions
(``REV1 REV2 -e TIER``) object by object and KEY by KEY. Secrets are never shown."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tierconf.cli._app import config_options, overlay_options, run_guarded, tier_option


@click.command("diff")
@click.argument("revisions", nargs=-1, type=click.IntRange(min=1), metavar="[REV1 REV2]")
@config_options
@tier_option()
@click.option("--against", metavar="TIER", help="The tier to compare with (tier mode).")
@overlay_options
@click.option(
    "--store", "store_url", metavar="URL",
    help="Revision store for REV1 REV2 (default: sqlite:///.tierconf/store.db).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(
    revisions: tuple[int, ...],
    config_dir: Path | None,
    secrets_dir: Path | None,
    environment: str,
    against: str | None,
    tenant: str | None,
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    store_url: str | None,
    fmt: str,
) -> None:
    """Compare two tiers (--against TIER) or two recorded revisions (REV1 REV2).

    Secrets show as references or masks between tiers, and as "changed" with their
    fingerprints between revisions.
    """

    def body() -> int:
        from tierconf.errors import UsageError

        if against is not None and not revisions:
            return _diff_tiers(config_dir, environment, against, tenant, values_files, sets, fmt)
        if against is None and len(revisions) == 2:
            return _diff_revisions(environment, tenant, revisions, store_url, fmt)
        raise UsageError(
            "give exactly one of: -e TIER --against TIER2 (two tiers), "
            "or REV1 REV2 -e TIER (two revisions)"
        )

    run_guarded(body)


def _diff_tiers(
    config_dir: Path | None,
    environment: str,
    against: str,
    tenant: str | None,
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    fmt: str,
) -> int:
    from tierconf.cli._common import build_request, open_tree
    from tierconf.diffing import diff_views, flat_view
    from tierconf.pipeline import resolve_config
    from tierconf.tree import LayerReader

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


def _diff_revisions(
    environment: str, tenant: str | None, revisions: tuple[int, ...], store_url: str | None, fmt: str
) -> int:
    from tierconf.cli._versioning import describe, opened_store, scope_of
    from tierconf.release import diff_revisions, masked_fingerprint

    tier, who = scope_of(environment, tenant)
    first, second = revisions
    with opened_store(store_url) as store:
        left, right = store.get(tier, who, first), store.get(tier, who, second)
    changes = diff_revisions(left, right)
    if fmt == "json":
        click.echo(json.dumps({"environment": tier, "tenant": who, "from": first, "to": second,
                               "changes": [c.to_json() for c in changes]}, indent=2))
        return 0
    label = describe(tier, who)
    if not changes:
        click.echo(f"{label}: revisions {first} and {second} have the same content")
        return 0
    current: str | None = None
    for change in changes:
        if change.object != current:
            current = change.object
            click.secho(f"--- {label} revision {first}  {current}", bold=True)
            click.secho(f"+++ {label} revision {second}  {current}", bold=True)
        left_text = masked_fingerprint(change.left) if change.secret else change.left
        right_text = masked_fingerprint(change.right) if change.secret else change.right
        click.secho(f"@@ {change.key} {change.change} @@", fg="cyan")
        if left_text is not None:
            click.secho(f"-{change.key}={left_text}", fg="red")
        if right_text is not None:
            click.secho(f"+{change.key}={right_text}", fg="green")
    objects = len({c.object for c in changes})
    click.echo(f"{len(changes)} KEYs differ in {objects} object(s)")
    return 0
