"""Validation as a library call: the findings for one tier/tenant, never an exception for
problems in the configuration itself (those become error findings)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tierconf.errors import ConfigError, InvalidConfigurationError
from tierconf.findings import SEVERITY_ORDER, Finding, finding_from_error
from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
from tierconf.schema._registry import registry
from tierconf.tree import ConfigTree, LayerReader

#: Extra checks run on a schema-valid configuration (the rule engine registers here).
Check = Callable[[ResolvedConfig], Sequence[Finding]]


@dataclass(frozen=True)
class ValidationReport:
    """The result of validating one configuration (CONTRACT.md JSON shape)."""

    environment: str
    tenant: str | None
    findings: tuple[Finding, ...]

    @property
    def valid(self) -> bool:
        """No finding of severity error."""
        return not any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        """``{"valid", "environment", "tenant", "findings": [...]}``."""
        return {
            "valid": self.valid,
            "environment": self.environment,
            "tenant": self.tenant,
            "findings": [f.to_json() for f in self.findings],
        }


def _sorted(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    return tuple(
        sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.file or "", f.line or 0, f.path, f.code))
    )


def validate(
    tree: ConfigTree,
    request: ConfigRequest,
    *,
    reader: LayerReader | None = None,
    checks: Sequence[Check] = (),
) -> ValidationReport:
    """Validate one request: schema problems and, when the schema holds, every check."""
    key_of = {s.path: s.key for s in registry().settings}
    environment = request.tier.value
    try:
        resolved = resolve_config(tree, request, reader)
    except InvalidConfigurationError as exc:
        findings = [finding_from_error(p, key_of) for p in exc.problems]
        return ValidationReport(environment, request.tenant, _sorted(findings))
    except ConfigError as exc:
        return ValidationReport(environment, request.tenant, (finding_from_error(exc, key_of),))
    findings = list(resolved.warnings)
    for check in checks:
        findings.extend(check(resolved))
    return ValidationReport(environment, request.tenant, _sorted(findings))
