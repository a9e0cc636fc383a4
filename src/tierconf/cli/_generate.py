"""``tierconf generate``: render ConfigMaps and Secrets for a tier (and tenants)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tierconf.cli._app import config_options, overlay_options, run_guarded, tier_option


@click.command("generate")
@config_options
@tier_option()
@overlay_options
@click.option("--all-tenants", is_flag=True, help="Also render every tenant under OUT/tenants/<id>/.")
@click.option(
    "-o",
    "--output",
    "output",
    default="out",
    show_default=True,
    metavar="DIR",
    help="Output directory; '-' prints to stdout with secrets masked.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json", "env", "volume"]),
    default="yaml",
    show_default=True,
    help="yaml/json manifests, a dotenv file, or a kubelet-style volume.",
)
@click.option("--namespace", help="Namespace of the objects (default: from tierconf.yaml).")
@click.option("--immutable", is_flag=True, help="Immutable objects with a kustomize hash suffix.")
@click.option(
    "--secrets",
    "secrets_mode",
    type=click.Choice(["inline", "external"]),
    default="inline",
    show_default=True,
    help="external: render ExternalSecret manifests, never secret values.",
)
def command(
    config_dir: Path | None,
    secrets_dir: Path | None,
    environment: str,
    tenant: str | None,
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    all_tenants: bool,
    output: str,
    fmt: str,
    namespace: str | None,
    immutable: bool,
    secrets_mode: str,
) -> None:
    """Render ConfigMaps and Secrets for a tier (and tenant) into a directory."""

    def body() -> int:
        from tierconf.cli._common import build_request, echo_findings, open_tree
        from tierconf.generate import GenerateOptions, generate

        if all_tenants and tenant:
            from tierconf.errors import UsageError

            raise UsageError("--tenant and --all-tenants cannot be used together")
        tree = open_tree(config_dir)
        request = build_request(environment, tenant, values_files, sets)
        options = GenerateOptions(
            fmt=fmt,  # type: ignore[arg-type]
            output=None if output == "-" else Path(output),
            namespace=namespace,
            immutable=immutable,
            secrets_mode=secrets_mode,  # type: ignore[arg-type]
            secrets_dir=secrets_dir,
            all_tenants=all_tenants,
        )
        result = generate(tree, request, options)
        echo_findings(result.warnings)
        if options.output is None:
            sys.stdout.write(result.stdout)
        else:
            for line in result.summary:
                click.echo(line, err=True)
        return 0

    run_guarded(body)
