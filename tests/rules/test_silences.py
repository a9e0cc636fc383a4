"""Reviewed silences in tierconf.yaml: scoped by tier and tenant, still shown as info."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import copy_bundled_tree
from tierconf.errors import SchemaError
from tierconf.pipeline import ConfigRequest
from tierconf.rules import SILENCE_UNKNOWN
from tierconf.tiers import EnvironmentTier
from tierconf.tree import load_tree
from tierconf.validation import ValidationReport, validate

DEBUG_ON = "application:\n  debug: true\n"


def tree_with(tmp_path: Path, silence: str) -> Path:
    """A bundled-tree copy whose tierconf.yaml ends with ``silence`` and DEBUG on via --values."""
    root = copy_bundled_tree(tmp_path / "tree")
    project = root / "tierconf.yaml"
    project.write_text(project.read_text(encoding="utf-8") + silence, encoding="utf-8")
    (root / "debug.yaml").write_text(DEBUG_ON, encoding="utf-8")
    return root


def run(root: Path, tier: str, tenant: str | None = None) -> ValidationReport:
    """Validate with debug.yaml as --values."""
    request = ConfigRequest(EnvironmentTier.parse(tier), tenant, values_files=(root / "debug.yaml",))
    return validate(load_tree(root), request)


def debug_findings(report: ValidationReport) -> list[tuple[str, str]]:
    """(severity, message) of the SEC-DEBUG-ENABLED findings."""
    return [(f.severity, f.message) for f in report.findings if f.code == "SEC-DEBUG-ENABLED"]


class TestSilences:
    """Silence entries downgrade matching findings to info, with their reason."""

    def test_silenced_finding_is_info_with_reason(self, tmp_path: Path) -> None:
        """A matching silence turns the error into info and appends the reason."""
        root = tree_with(
            tmp_path,
            "silence:\n  - code: SEC-DEBUG-ENABLED\n"
            "    reason: incident 4711 needs tracebacks until Friday\n",
        )
        report = run(root, "production")
        assert report.valid
        [(severity, message)] = debug_findings(report)
        assert severity == "info"
        assert message.endswith("(silenced: incident 4711 needs tracebacks until Friday)")

    def test_tier_scope(self, tmp_path: Path) -> None:
        """A silence for staging leaves production untouched."""
        root = tree_with(
            tmp_path,
            "silence:\n  - code: SEC-DEBUG-ENABLED\n    tier: stg\n"
            "    reason: load test of the debug toolbar\n",
        )
        assert debug_findings(run(root, "staging"))[0][0] == "info"
        assert debug_findings(run(root, "production"))[0][0] == "error"

    def test_tenant_scope(self, tmp_path: Path) -> None:
        """A silence for one tenant leaves the tier-wide config and other tenants untouched."""
        root = tree_with(
            tmp_path,
            "silence:\n  - code: SEC-DEBUG-ENABLED\n    tenant: acme\n    reason: acme's pen-test window\n",
        )
        assert debug_findings(run(root, "production", "acme"))[0][0] == "info"
        assert debug_findings(run(root, "production", "indie-labs"))[0][0] == "error"
        assert debug_findings(run(root, "production"))[0][0] == "error"

    def test_unknown_code_is_an_error_at_its_line(self, tmp_path: Path) -> None:
        """A silence for a code that does not exist is an error at tierconf.yaml:line."""
        root = tree_with(
            tmp_path, "silence:\n  - code: SEC-DEBUG-ENABLD\n    reason: typo in the rule code\n"
        )
        report = run(root, "production")
        [finding] = [f for f in report.findings if f.code == SILENCE_UNKNOWN]
        assert finding.severity == "error"
        assert finding.file is not None and finding.file.endswith("tierconf.yaml")
        lines = (root / "tierconf.yaml").read_text(encoding="utf-8").splitlines()
        assert finding.line is not None and "SEC-DEBUG-ENABLD" in lines[finding.line - 1]


class TestSilenceFile:
    """tierconf.yaml's silence list is read strictly, with file:line on errors."""

    @pytest.mark.parametrize(
        ("entry", "expected"),
        [
            ("  - code: SEC-DEBUG-ENABLED\n    reason: short\n", "at least 10 characters"),
            (
                "  - code: SEC-DEBUG-ENABLED\n    tier: qa\n    reason: a long enough reason\n",
                "unknown environment tier",
            ),
            (
                "  - code: SEC-DEBUG-ENABLED\n    tenants: acme\n    reason: a long enough reason\n",
                "unknown field 'tenants'",
            ),
            ("  - SEC-DEBUG-ENABLED\n", "must be a mapping"),
            ("  - code: SEC-DEBUG-ENABLED\n", "reason"),
        ],
    )
    def test_bad_entries_are_schema_errors_with_location(
        self, tmp_path: Path, entry: str, expected: str
    ) -> None:
        """Each malformed entry is reported with tierconf.yaml and a line."""
        root = tree_with(tmp_path, "silence:\n" + entry)
        with pytest.raises(SchemaError) as info:
            load_tree(root)
        assert expected in str(info.value)
        assert info.value.location is not None and info.value.location.file.endswith("tierconf.yaml")
        assert info.value.location.line is not None and info.value.location.line > 7
