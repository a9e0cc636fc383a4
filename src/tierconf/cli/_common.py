"""Helpers shared by commands: building requests, printing findings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import click

from tierconf.findings import Finding
from tierconf.pipeline import ConfigRequest
from tierconf.tiers import EnvironmentTier
from tierconf.tree import ConfigTree, load_tree


def build_request(
    environment: str,
    tenant: str | None = None,
    values_files: Sequence[Path] = (),
    sets: Sequence[str] = (),
) -> ConfigRequest:
    """Parse the tier spelling and bundle the overlays."""
    return ConfigRequest(
        tier=EnvironmentTier.parse(environment),
        tenant=tenant,
        values_files=tuple(values_files),
        sets=tuple(sets),
    )


def open_tree(config_dir: Path | None) -> ConfigTree:
    """Load the tree given by -c, or the bundled one."""
    return load_tree(config_dir)


def echo_findings(findings: Iterable[Finding]) -> None:
    """Print warnings and infos to stderr, one line each, with file:line."""
    for finding in findings:
        click.echo(f"{finding.severity}: {finding.where()}: [{finding.code}] {finding.message}", err=True)
