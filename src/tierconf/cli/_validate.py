"""``tierconf validate``: findings as text (rich), JSON (CONTRACT.md) or SARIF 2.1.0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tierconf.cli._app import config_options, overlay_options, run_guarded

if TYPE_CHECKING:
    from tierconf.tree import ConfigTree
    from tierconf.validation import ValidationReport

_FIX = ". Fix: "
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_PLURAL = {"error": "errors", "warning": "warnings", "info": "info"}


def _print_text(reports: list[ValidationReport]) -> None:
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for report in reports:
        label = report.environment + (f"/{report.tenant}" if report.tenant else "")
        for severity in ("error", "warning", "info"):
            group = [f for f in report.findings if f.severity == severity]
            if not group:
                continue
            console = err if severity == "error" else out
            console.print(f"[{_STYLE[severity]}]{label}: {len(group)} {_PLURAL[severity]}[/]")
            for finding in group:
                message, fix = finding.message, ""
                if _FIX in message:
                    message, _, fix = message.rpartition(_FIX)
                console.print(
                    f"  [{_STYLE[severity]}]{severity}[/]: {escape(finding.where())}: "
                    f"[bold]\\[{escape(finding.code)}][/] {escape(message)}"
                )
                if fix:
                    console.print(f"      [dim]fix:[/] {escape(fix)}")
        counts = {s: sum(f.severity == s for f in report.findings) for s in _PLURAL}
        status = "[green]valid[/]" if report.valid else "[bold red]INVALID[/]"
        out.print(
            f"{label}: {status} ({counts['error']} errors, {counts['warning']} warnings, "
            f"{counts['info']} info)"
        )


def _print_json(
    reports: list[ValidationReport], all_tiers: bool, environment: str | None, tenant: str | None
) -> None:
    if len(reports) == 1:
        document = reports[0].to_json()
    else:
        findings = [
            {**item, "environment": report.environment, "tenant": report.tenant}
            for report in reports
            for item in report.to_json()["findings"]
        ]
        document = {
            "valid": all(r.valid for r in reports),
            "environment": "all" if all_tiers else str(environment),
            "tenant": tenant,
            "findings": findings,
        }
    click.echo(json.dumps(document, indent=2))


def _print_sarif(tree: ConfigTree, reports: list[ValidationReport]) -> None:
    from tierconf import __version__
    from tierconf.rules import RULES
    from tierconf.rules._sarif import to_sarif

    log = to_sarif(tree, [(r.environment, r.tenant, r.findings) for r in reports], RULES, __version__)
    click.echo(json.dumps(log, indent=2))


@click.command("validate")
@config_options
@click.option("-e", "--environment", metavar="TIER", help="Tier to validate.")
@click.option("--all", "all_tiers", is_flag=True, help="Every tier, and every tenant in each.")
@overlay_options
@click.option("--all-tenants", is_flag=True, help="Also validate every tenant of the tier.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="text (grouped by severity), JSON (CONTRACT.md) or SARIF 2.1.0.",
)
@click.option("--live", is_flag=True, help="Also connect to the configured data stores (extra 'live').")
@click.option(
    "--live-timeout",
    type=click.FloatRange(0.1, 60),
    default=3.0,
    show_default=True,
    help="Seconds allowed for each live connection.",
)
@click.option(
    "--resolve-secrets",
    is_flag=True,
    help="Resolve secret values so rules can check them (key lengths, default passwords).",
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
    live: bool,
    live_timeout: float,
    resolve_secrets: bool,
) -> None:
    """Validate the configuration; exit 1 when any finding is an error."""

    def body() -> int:
        from datetime import date

        from tierconf.cli._common import build_request, open_tree
        from tierconf.errors import UsageError
        from tierconf.secrets import SecretOptions
        from tierconf.tenancy import validate_tenants
        from tierconf.tiers import ALL_TIERS
        from tierconf.tree import LayerReader
        from tierconf.validation import ValidationOptions, validate

        if all_tiers == bool(environment):
            raise UsageError("give exactly one of -e TIER or --all")
        tree = open_tree(config_dir)
        options = ValidationOptions(
            today=date.today(),
            resolve_secrets=resolve_secrets,
            secrets=SecretOptions(secrets_dir=secrets_dir),
            live=live,
            live_timeout=live_timeout,
        )
        tiers = [t.value for t in ALL_TIERS] if all_tiers else [str(environment)]
        reader = LayerReader(tree)
        reports: list[ValidationReport] = []
        for tier in tiers:
            request = build_request(tier, tenant, values_files, sets)
            reports.append(validate(tree, request, reader=reader, options=options))
            if (all_tiers or all_tenants) and tenant is None:
                # Shared layers parsed and validated once, tenants spread over both cores.
                reports.extend(validate_tenants(tree, request, options=options, reader=reader))
        if fmt == "json":
            _print_json(reports, all_tiers, environment, tenant)
        elif fmt == "sarif":
            _print_sarif(tree, reports)
        else:
            _print_text(reports)
        return 0 if all(r.valid for r in reports) else 1

    run_guarded(body)
