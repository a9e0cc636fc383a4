"""The bundled tree validates with no error in every tier and tenant."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from rules.conftest import TODAY
from tierconf.cli import cli
from tierconf.pipeline import ConfigRequest
from tierconf.tiers import EnvironmentTier
from tierconf.tree import LayerReader, load_tree
from tierconf.validation import ValidationOptions, validate


class TestBundledTree:
    """The Spotify AI Agent tree shipped in the package is clean."""

    def test_no_error_or_warning_in_any_tier_or_tenant(self) -> None:
        """Every tier and tenant validates with no error and no warning."""
        tree = load_tree(None)
        reader = LayerReader(tree)
        for tier in EnvironmentTier:
            for tenant in (None, *tree.tenants()):
                report = validate(
                    tree, ConfigRequest(tier, tenant), reader=reader, options=ValidationOptions(today=TODAY)
                )
                problems = [f for f in report.findings if f.severity != "info"]
                assert problems == [], (tier, tenant, problems)

    def test_cli_validate_all_exits_zero(self, tmp_path: Path) -> None:
        """`tierconf validate --all` exits 0 on the bundled tree."""
        result = CliRunner().invoke(cli, ["validate", "--all"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "INVALID" not in result.output
