"""Validation as a library call: the findings for one tier/tenant, never an exception for
problems in the configuration itself (those become error findings).

Stages, in order: resolve (layers, merge, schema) -> optionally resolve secrets -> the rule
engine (``tierconf.rules``) -> extra checks -> optionally live checks (``tierconf.live``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from tierconf.errors import ConfigError, InvalidConfigurationError, SecretError, UsageError
from tierconf.findings import SEVERITY_ORDER, Finding, finding_from_error
from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
from tierconf.schema._registry import registry
from tierconf.secrets import SecretOptions
from tierconf.tiers import EnvironmentTier
from tierconf.tree import ConfigTree, LayerReader

#: Extra checks run on a schema-valid configuration, after the rule engine.
Check = Callable[[ResolvedConfig], Sequence[Finding]]


@dataclass(frozen=True)
class ValidationOptions:
    """What ``validate`` does beyond the schema.

    Attributes:
        rules: Run the rule engine (business, security, leaks, capacity, flags).
        today: Date flag expiry is compared with; ``None`` skips the expiry rule (the
            engine never reads the clock: the CLI passes today's date).
        resolve_secrets: Resolve secret values (as ``generate`` would) so that rules can
            check them (HMAC key length, default passwords); a missing one is an error.
        secrets: Where secret values come from (``--secrets-dir``, environment).
        live: Connect to the configured PostgreSQL, Redis, MongoDB and ElasticSearch.
        live_timeout: Seconds allowed for each live connection.
    """

    rules: bool = True
    today: date | None = None
    resolve_secrets: bool = False
    secrets: SecretOptions | None = None
    live: bool = False
    live_timeout: float = 3.0


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
        sorted(
            findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.file or "", f.line or 0, f.path, f.code)
        )
    )


def _secret_values(
    resolved: ResolvedConfig, options: ValidationOptions
) -> tuple[Mapping[str, str], list[Finding]]:
    from tierconf.secrets import resolve_secrets

    try:
        values = resolve_secrets(resolved, options.secrets)
    except SecretError as exc:
        return {}, [Finding("error", "SECRET-UNRESOLVED", "secrets", None, exc.message)]
    return {key: secret.value for key, secret in values.by_key.items()}, list(values.warnings)


def _tier_resolver(
    tree: ConfigTree, request: ConfigRequest, reader: LayerReader
) -> Callable[[EnvironmentTier], ResolvedConfig | None]:
    def resolve(tier: EnvironmentTier) -> ResolvedConfig | None:
        try:
            return resolve_config(tree, ConfigRequest(tier, tenant=request.tenant), reader)
        except (ConfigError, UsageError):
            return None

    return resolve


def validate(
    tree: ConfigTree,
    request: ConfigRequest,
    *,
    reader: LayerReader | None = None,
    checks: Sequence[Check] = (),
    options: ValidationOptions | None = None,
) -> ValidationReport:
    """Validate one request: schema problems and, when the schema holds, every rule.

    Args:
        tree: The config tree.
        request: Tier, tenant and command-line overlays.
        reader: Shares parsed layer files between calls (``--all``).
        checks: Extra checks run after the rule engine.
        options: Rules, secrets and live checks (default: rules only, no clock).
    """
    options = options or ValidationOptions()
    reader = reader or LayerReader(tree)
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
    secrets: Mapping[str, str] = {}
    if options.resolve_secrets:
        secrets, secret_findings = _secret_values(resolved, options)
        findings.extend(secret_findings)
    if options.rules:
        from tierconf.rules import run_rules

        findings.extend(
            run_rules(
                resolved,
                today=options.today,
                secrets=secrets,
                resolver=_tier_resolver(tree, request, reader),
            )
        )
    for check in checks:
        findings.extend(check(resolved))
    if options.live:
        from tierconf.live import LiveOptions, live_findings

        findings.extend(
            live_findings(resolved, LiveOptions(timeout=options.live_timeout, secrets=options.secrets))
        )
    return ValidationReport(environment, request.tenant, _sorted(findings))
