"""Feature-flag rules that need no flag evaluator: targeting, expiry, tier ordering."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from tierconf.rules._engine import RuleContext, RuleHit, RuleSet, tiers
from tierconf.tiers import EnvironmentTier

FLAGS = RuleSet("flags")
TARGETING_SEVERITY = tiers("warning", "warning", "error", "error")


@FLAGS.rule(
    "FLAG-ALLOW-DENY-OVERLAP",
    title="Tenant both allowed and denied",
    rationale="Evaluation checks deny before allow, so the allow entry is dead: whoever "
    "added it expects the flag on for that tenant.",
    citation="CONTRACT.md, feature flags (evaluation order: disabled, denied, allowed, plan, rollout)",
    fix="remove the tenant from allow_tenants or from deny_tenants",
    severity=TARGETING_SEVERITY,
)
def allow_deny_overlap(ctx: RuleContext) -> Iterator[RuleHit]:
    """No tenant in both allow_tenants and deny_tenants."""
    for name, flag in ctx.config.flags.items():
        for tenant in sorted(set(flag.allow_tenants) & set(flag.deny_tenants)):
            yield RuleHit(
                f"flags.{name}.deny_tenants",
                f"flag {name}: tenant {tenant!r} is in both allow_tenants and deny_tenants (deny wins)",
            )


@FLAGS.rule(
    "FLAG-UNKNOWN-TENANT",
    title="Flag targets a tenant that does not exist",
    rationale="A misspelt tenant id in allow_tenants or deny_tenants silently targets nobody.",
    citation="tierconf policy (flag targeting refers to tenants/ files)",
    fix="use a tenant id that has a file under tenants/, or remove the entry",
    severity=TARGETING_SEVERITY,
)
def unknown_tenant(ctx: RuleContext) -> Iterator[RuleHit]:
    """Every tenant in allow/deny lists has a tenants/<id>.yaml."""
    known = set(ctx.tenants)
    for name, flag in ctx.config.flags.items():
        for field, listed in (("allow_tenants", flag.allow_tenants), ("deny_tenants", flag.deny_tenants)):
            for tenant in listed:
                if tenant not in known:
                    yield RuleHit(
                        f"flags.{name}.{field}",
                        f"flag {name}: {field} names {tenant!r}, which is not a tenant "
                        f"(known: {', '.join(sorted(known)) or 'none'})",
                    )


@FLAGS.rule(
    "FLAG-EXPIRED",
    title="Flag past its expiry date",
    rationale="Flags are temporary; an expired flag is dead code paths and stale "
    "configuration that nobody owns any more.",
    citation="Pete Hodgson, Feature Toggles (aka Feature Flags), martinfowler.com: "
    "managing the carrying cost of toggles (expiration dates)",
    fix="remove the flag (and the code paths it gates) or move its expires date with its owner's agreement",
    severity=tiers("warning", "warning", "warning", "warning"),
)
def expired(ctx: RuleContext) -> Iterator[RuleHit]:
    """``expires`` is today or later (only when the caller passes ``today``)."""
    if ctx.today is None:
        return
    for name, flag in ctx.config.flags.items():
        if flag.expires and date.fromisoformat(flag.expires) < ctx.today:
            owner = f" (owner: {flag.owner})" if flag.owner else ""
            yield RuleHit(f"flags.{name}.expires", f"flag {name} expired on {flag.expires}{owner}")


def _live(rollout: float, enabled: bool) -> bool:
    return enabled and rollout > 0


@FLAGS.rule(
    "FLAG-PROD-NOT-STAGING",
    title="Flag on in production but off in staging",
    rationale="Staging runs release candidates first; a flag exposed in production but not "
    "in staging ships a code path that was never exercised before production.",
    citation="tierconf policy (staging leads production)",
    fix="enable the flag in staging first (at least as wide a rollout), or turn it off in production",
    severity=tiers(None, None, None, "warning"),
)
def prod_not_staging(ctx: RuleContext) -> Iterator[RuleHit]:
    """Every flag live in production is live (and at least as wide) in staging."""
    staging = ctx.other_tier(EnvironmentTier.STAGING)
    if staging is None:
        return
    for name, flag in ctx.config.flags.items():
        if not _live(flag.rollout_percent, flag.enabled):
            continue
        other = staging.config.flags.get(name)
        if other is None or not _live(other.rollout_percent, other.enabled):
            state = "missing" if other is None else "off"
            yield RuleHit(f"flags.{name}.enabled", f"flag {name} is on in production but {state} in staging")
        elif other.rollout_percent < flag.rollout_percent:
            yield RuleHit(
                f"flags.{name}.rollout_percent",
                f"flag {name} rolls out to {flag.rollout_percent:g}% in production but only "
                f"{other.rollout_percent:g}% in staging",
                soft=True,
            )
