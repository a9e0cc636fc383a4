"""The rule engine: what a rule is, what it sees, and how its hits become findings.

A :class:`Rule` is a small registered unit: a stable code (``SEC-JWT-NONE``), a title, a
rationale with its citation, a fix, a severity per tier, and a pure ``check`` function
that looks at one :class:`RuleContext` and yields :class:`RuleHit` objects. The engine
(:func:`apply_rules`) turns hits into :class:`~tierconf.findings.Finding` objects: it
picks the tier's severity, fills the KEY and the ``file:line`` of the value that caused
the hit from provenance, applies the reviewed silences of ``tierconf.yaml``, and passes
every message through a redactor so that no secret value is ever printed.

Rules never read the clock, the environment or the network: the caller passes ``today``
and, when secrets were resolved, their values. Live checks (``tierconf.live``) produce
hits for rules registered without a ``check``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from typing import Any, Literal

from tierconf.findings import SEVERITY_ORDER, Finding, Severity
from tierconf.pipeline import ResolvedConfig
from tierconf.provenance import Origin
from tierconf.rules._detect import redact
from tierconf.schema._flags import flag_key
from tierconf.schema._registry import registry
from tierconf.schema._root import TierConfig
from tierconf.schema._secret_ref import SecretRef
from tierconf.tiers import EnvironmentTier
from tierconf.tree import Silence

Family = Literal["business", "security", "leaks", "capacity", "flags", "live"]
TierResolver = Callable[[EnvironmentTier], "ResolvedConfig | None"]
Redactor = Callable[[str], str]

_DEMOTE: dict[str, Severity] = {"error": "warning", "warning": "info", "info": "info"}


@dataclass(frozen=True, slots=True)
class TierSeverity:
    """The severity of a rule in each tier; ``None`` means the rule does not run there."""

    local: Severity | None
    development: Severity | None
    staging: Severity | None
    production: Severity | None

    def for_tier(self, tier: EnvironmentTier) -> Severity | None:
        """The severity in ``tier``."""
        value: Severity | None = getattr(self, tier.value)
        return value

    def as_dict(self) -> dict[str, Severity | None]:
        """``{"local": ..., "development": ..., "staging": ..., "production": ...}``."""
        return {tier.value: self.for_tier(tier) for tier in EnvironmentTier}


def tiers(
    local: Severity | None,
    development: Severity | None,
    staging: Severity | None,
    production: Severity | None,
) -> TierSeverity:
    """Shorthand for :class:`TierSeverity`, in tier order."""
    return TierSeverity(local, development, staging, production)


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One problem a rule found.

    Attributes:
        path: The setting that caused it (its file:line is reported).
        message: What is wrong and what was expected. Quote values through
            :func:`tierconf.rules.shown` so that secrets stay masked.
        soft: Report one severity level below the rule's (error -> warning -> info),
            e.g. "near the limit" rather than "over the limit".
        item: For list settings, the offending element: its own layer is blamed.
        fix: Overrides the rule's generic fix for this hit.
    """

    path: str
    message: str
    soft: bool = False
    item: Any = None
    fix: str | None = None


@dataclass(frozen=True)
class RuleContext:
    """What a rule sees: the resolved configuration and what the caller supplied.

    Attributes:
        resolved: The merged, schema-valid configuration with provenance.
        today: The date flag expiry is compared with (``None``: expiry is not checked).
        secrets: Secret values by KEY, when the caller resolved them.
        resolver: Resolves the same tenant in another tier (for cross-tier rules).
        tenants: The tenant ids of the tree (files under ``tenants/``).
    """

    resolved: ResolvedConfig
    today: date | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    resolver: TierResolver | None = None
    tenants: tuple[str, ...] = ()

    @property
    def config(self) -> TierConfig:
        """The typed configuration."""
        return self.resolved.config

    @property
    def tier(self) -> EnvironmentTier:
        """The tier being validated."""
        return self.resolved.tier

    @property
    def tenant(self) -> str | None:
        """The tenant being validated, if any."""
        return self.resolved.tenant

    def secret(self, key: str) -> str | None:
        """The value of secret KEY: resolved by the caller, or a plaintext literal (local)."""
        if key in self.secrets:
            return self.secrets[key]
        spec = registry().by_key.get(key)
        layered = self.resolved.values.get(spec.path) if spec is not None else None
        if layered is not None and isinstance(layered.value, SecretRef):
            ref = layered.value
            return ref.target if ref.kind == "literal" else None
        return None

    def other_tier(self, tier: EnvironmentTier) -> ResolvedConfig | None:
        """The same tenant resolved in ``tier`` (without command-line overlays), or None."""
        if self.resolver is None:
            return None
        return self.resolver(tier)


Check = Callable[[RuleContext], Iterable[RuleHit]]


@dataclass(frozen=True)
class Rule:
    """A registered validation rule. ``check`` is ``None`` for rules fed by live checks."""

    code: str
    family: Family
    title: str
    rationale: str
    citation: str
    fix: str
    severity: TierSeverity
    check: Check | None = field(default=None, compare=False, repr=False)

    def default_level(self) -> Severity:
        """The strictest severity across tiers (SARIF ``defaultConfiguration``)."""
        levels = [s for s in self.severity.as_dict().values() if s is not None]
        return min(levels, key=SEVERITY_ORDER.__getitem__, default="info")


class RuleSet:
    """The rules of one family, in declaration order.

    ``@ruleset.rule(code, ...)`` registers the decorated check function and returns it
    unchanged, so checks stay plain functions that tests can call directly.
    """

    def __init__(self, family: Family) -> None:
        self.family: Family = family
        self.rules: list[Rule] = []

    def rule(
        self,
        code: str,
        *,
        title: str,
        rationale: str,
        citation: str,
        fix: str,
        severity: TierSeverity,
    ) -> Callable[[Check], Check]:
        """Register a check under ``code``."""

        def register(check: Check) -> Check:
            self.add(
                code,
                title=title,
                rationale=rationale,
                citation=citation,
                fix=fix,
                severity=severity,
                check=check,
            )
            return check

        return register

    def setting_on(
        self,
        code: str,
        path: str,
        *,
        title: str,
        rationale: str,
        citation: str,
        fix: str,
        severity: TierSeverity,
    ) -> Rule:
        """Register a rule that fires when the boolean setting at ``path`` is false
        (``JWT_VERIFY_EXP is false``)."""
        value = attrgetter(path)

        def check(ctx: RuleContext) -> Iterator[RuleHit]:
            if not value(ctx.config):
                yield RuleHit(path, f"{key_of(path)} is false")

        return self.add(
            code, title=title, rationale=rationale, citation=citation, fix=fix, severity=severity, check=check
        )

    def not_above(
        self,
        code: str,
        lower: str,
        upper: str,
        *,
        unit: str = "",
        title: str,
        rationale: str,
        citation: str,
        fix: str,
        severity: TierSeverity,
    ) -> Rule:
        """Register a rule that fires when the setting at ``lower`` exceeds the one at
        ``upper`` (``DEFAULT_PAGE_SIZE 200 is above MAX_PAGE_SIZE 100``); ``lower`` is blamed."""
        low, high = attrgetter(lower), attrgetter(upper)

        def check(ctx: RuleContext) -> Iterator[RuleHit]:
            below, above = low(ctx.config), high(ctx.config)
            if below > above:
                yield RuleHit(lower, f"{key_of(lower)} {below}{unit} is above {key_of(upper)} {above}{unit}")

        return self.add(
            code, title=title, rationale=rationale, citation=citation, fix=fix, severity=severity, check=check
        )

    def add(
        self,
        code: str,
        *,
        title: str,
        rationale: str,
        citation: str,
        fix: str,
        severity: TierSeverity,
        check: Check | None = None,
    ) -> Rule:
        """Register a rule (``check=None`` for findings produced elsewhere, e.g. live)."""
        rule = Rule(code, self.family, title, rationale, citation, fix, severity, check)
        self.rules.append(rule)
        return rule


def shown(value: Any) -> str:
    """A value as messages quote it: like ``repr``, with anything secret-looking masked."""
    if isinstance(value, SecretRef):
        return value.describe()
    if isinstance(value, tuple | list):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    if isinstance(value, str):
        return repr(redact(value))
    return repr(value)


def label(path: str) -> str:
    """``security.jwt.algorithm (JWT_ALGORITHM)``: how messages name a setting."""
    key = key_of(path)
    return f"{path} ({key})" if key else path


def key_of(path: str) -> str | None:
    """The ConfigMap KEY of a setting path (``FLAG_<NAME>`` for flag fields)."""
    spec = registry().by_path.get(path)
    if spec is not None:
        return spec.key
    parts = path.split(".")
    if parts[0] == "flags" and len(parts) >= 2:
        return flag_key(parts[1])
    return None


def origin_of(resolved: ResolvedConfig, path: str, item: Any = None) -> Origin | None:
    """The layer that set ``path`` (for a merged list, the one that added ``item``)."""
    layered = resolved.values.get(path)
    if layered is None:
        parts = path.split(".")
        if parts[0] == "flags" and len(parts) > 2:
            # A flag field left at its default: blame the flag's definition.
            layered = resolved.values.get(".".join(parts[:2]))
        if layered is None:
            return None
    chain = layered.chain
    blamed = chain[-1]
    spec = registry().by_path.get(path)
    merged = spec is not None and spec.meta.merge == "merge"
    if item is not None and merged:
        for origin in reversed(chain):
            if isinstance(origin.value, tuple) and item in origin.value:
                blamed = origin
            else:
                break
    return blamed


def _finding(rule: Rule, hit: RuleHit, ctx: RuleContext, severity: Severity, redact: Redactor) -> Finding:
    origin = origin_of(ctx.resolved, hit.path, hit.item)
    fix = hit.fix or rule.fix
    message = f"{hit.message}. Fix: {fix}" if fix else hit.message
    return Finding(
        severity=severity,
        code=rule.code,
        path=hit.path,
        key=key_of(hit.path),
        message=redact(message),
        file=origin.file if origin is not None else None,
        line=origin.line if origin is not None else None,
    )


def hits_to_findings(
    rule: Rule,
    hits: Iterable[RuleHit],
    ctx: RuleContext,
    silences: Sequence[Silence] = (),
    redact: Redactor = str,
) -> list[Finding]:
    """Turn one rule's hits into findings for the context's tier (empty if not run there)."""
    base = rule.severity.for_tier(ctx.tier)
    if base is None:
        return []
    silence = next((s for s in silences if s.matches(rule.code, ctx.tier, ctx.tenant)), None)
    findings: list[Finding] = []
    for hit in hits:
        severity = _DEMOTE[base] if hit.soft else base
        finding = _finding(rule, hit, ctx, severity, redact)
        if silence is not None:
            finding = Finding(
                "info",
                finding.code,
                finding.path,
                finding.key,
                f"{finding.message} (silenced: {redact(silence.reason)})",
                finding.file,
                finding.line,
            )
        findings.append(finding)
    return findings


def apply_rules(
    ctx: RuleContext,
    rules: Iterable[Rule],
    silences: Sequence[Silence] = (),
    redact: Redactor = str,
) -> list[Finding]:
    """Run every rule with a check that is active in the context's tier."""
    findings: list[Finding] = []
    for rule in rules:
        if rule.check is None or rule.severity.for_tier(ctx.tier) is None:
            continue
        findings.extend(hits_to_findings(rule, rule.check(ctx), ctx, silences, redact))
    return findings
