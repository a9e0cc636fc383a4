"""``tierconf validate``: findings as text, JSON (CONTRACT.md) or SARIF."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from tierconf.cli._app import config_options, overlay_options, run_guarded


@click.command("validate")
@config_options
@click.option("-e", "--environment", metavar="TIER", help="Tier to validate.")
@click.option("--all", "all_tiers", is_flag=True, help="Every tier, and every tenant in each.")
@overlay_options
@click.option("--all-tenants", is_flag=True, help="Also validate every tenant of the tier.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def command(
    config_dir: Path | None,
    secrets_dir: Path | None,
    environment: str | None,
    all_tiers: bool,
    tenant: str | None,
    values_files: tuple[Path, ...],
    sets: tuple[str, ...],
    all_tenants: bool,
    fmt: str,
) -> None:
    """Validate the configuration; exit 1 when any finding is an error."""

    def body() -> int:
        from tierconf.cli._common import build_request, open_tree  # noqa: PLC0415
        from tierconf.errors import UsageError  # noqa: PLC0415
        from tierconf.tiers import ALL_TIERS  # noqa: PLC0415
        from tierconf.tree import LayerReader  # noqa: PLC0415
        from tierconf.validation import ValidationReport, validate  # noqa: PLC0415

        if all_tiers == bool(environment):
            raise UsageError("give exactly one of -e TIER or --all")
        tree = open_tree(config_dir)
        tiers = [t.value for t in ALL_TIERS] if all_tiers else [str(environment)]
        reader = LayerReader(tree)
        reports: list[ValidationReport] = []
        for tier in tiers:
            request = build_request(tier, tenant, values_files, sets)
            tenants: list[str | None] = [tenant]
            if (all_tiers or all_tenants) and tenant is None:
                tenants.extend(tree.tenants())
            for each in tenants:
                reports.append(validate(tree, replace(request, tenant=each), reader=reader))
        valid = all(r.valid for r in reports)
        if fmt == "json":
            if len(reports) == 1:
                document = reports[0].to_json()
            else:
                findings = []
                for report in reports:
                    for item in report.to_json()["findings"]:
                        findings.append({**item, "environment": report.environment, "tenant": report.tenant})
                document = {"valid": valid, "environment": "all" if all_tiers else str(environment),
                            "tenant": tenant, "findings": findings}
            click.echo(json.dumps(document, indent=2))
        else:
            for report in reports:
                label = report.environment + (f"/{report.tenant}" if report.tenant else "")
                for f in report.findings:
                    click.echo(f"{f.severity}: {f.where()}: [{f.code}] {f.message}", err=f.severity == "error")
                errors = sum(f.severity == "error" for f in report.findings)
                warnings = sum(f.severity == "warning" for f in report.findings)
                status = "valid" if report.valid else "INVALID"
                click.echo(f"{label}: {status} ({errors} errors, {warnings} warnings)")
        return 0 if valid else 1

    run_guarded(body)
