"""Feature-flag rules about typed variants, constraints and flags no base file declares.

The rules of ``_flags.py`` cover targeting lists, expiry and tier ordering; these cover
what typed flags add. Registered in their own :data:`FLAG_VARIANTS` set (family ``flags``);
``tierconf.rules`` lists them after ``FLAGS``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from tierconf.provenance import Origin
from tierconf.rules._engine import RuleContext, RuleHit, RuleSet, tiers

FLAG_VARIANTS = RuleSet("flags")
PLANS = ("free", "pro", "enterprise")


@FLAG_VARIANTS.rule(
    "FLAG-VARIANT-WEIGHTS",
    title="Variant weights do not sum to 100",
    rationale="Weights are the share of the flag's on-population each variant gets. When they "
    "do not add up to 100 the evaluator normalises them, so the split actually served differs "
    "from the percentages written; with no weight at all the flag serves its default variant "
    "even when on.",
    citation="Unleash, variants: weights of a flag's variants always total 100 %",
    fix="make the weights of the variants add up to exactly 100",
    severity=tiers("warning", "warning", "error", "error"),
)
def variant_weights(ctx: RuleContext) -> Iterator[RuleHit]:
    """The weights of a flag's variants sum to 100 (flags with variants only)."""
    for name, flag in ctx.config.flags.items():
        if not flag.variants:
            continue
        total = sum(v.weight for v in flag.variants)
        if abs(total - 100) <= 1e-9:
            continue
        weights = ", ".join(f"{v.name}={v.weight:g}" for v in flag.variants)
        if total == 0:
            message = (
                f"flag {name}: no variant has a weight ({weights}), so it serves its default variant "
                f"{flag.default_variant!r} even when on"
            )
        else:
            message = f"flag {name}: variant weights sum to {total:g}, not 100 ({weights})"
        yield RuleHit(f"flags.{name}.variants", message)


@FLAG_VARIANTS.rule(
    "FLAG-UNDECLARED",
    title="Flag set in a tier but declared in no base file",
    rationale="Tier files override flags declared in base/. A misspelt flag name in a tier file "
    "silently creates a new flag, on for everyone by default, while the intended flag keeps its "
    "base value; code asking for the new name never existed.",
    citation="tierconf policy (flags are declared once in base/flags.yaml, tiers override them)",
    fix="declare the flag in base/ (with owner and expires) or correct the name to an existing flag",
    severity=tiers("warning", "warning", "error", "error"),
)
def undeclared(ctx: RuleContext) -> Iterator[RuleHit]:
    """Every flag has a definition in a base file (when the source has base files at all)."""
    values = ctx.resolved.values
    if not any(origin.kind == "base" for layered in values.values() for origin in layered.chain):
        return  # not a layered tree (e.g. a runtime volume): nothing is "declared in base"
    origins: dict[str, list[tuple[str, Origin]]] = {}
    for path, layered in values.items():
        if path.startswith("flags."):
            name = path.split(".", 2)[1]
            origins.setdefault(name, []).extend((path, origin) for origin in layered.chain)
    declared = [name for name, found in origins.items() if any(o.kind == "base" for _, o in found)]
    for name in ctx.config.flags:
        found = origins.get(name, [])
        if not found or name in declared:
            continue
        paths = [path for path, _ in found]
        blamed = f"flags.{name}" if f"flags.{name}" in paths else paths[0]
        where = ", ".join(sorted({o.layer for _, o in found}))
        close = difflib.get_close_matches(name, declared, n=1)
        hint = f" (closest declared flag: {close[0]})" if close else ""
        yield RuleHit(blamed, f"flag {name} is set by {where} but declared in no base file{hint}")


@FLAG_VARIANTS.rule(
    "FLAG-CONSTRAINT-VALUE",
    title="Constraint compares with a value that cannot occur",
    rationale="A constraint on the plan or the tenant whose values name no plan or no tenant "
    "never matches (for not_in: always matches), which is almost always a typo.",
    citation="tierconf policy (plans are free, pro, enterprise; tenants are tenants/ files)",
    fix="use a plan (free, pro, enterprise) or a tenant id that has a file under tenants/",
    severity=tiers("warning", "warning", "warning", "warning"),
)
def constraint_values(ctx: RuleContext) -> Iterator[RuleHit]:
    """Constraints on ``plan`` name plans; constraints on ``tenant`` name known tenants."""
    tenants: frozenset[str] | None = None
    for name, flag in ctx.config.flags.items():
        for index, constraint in enumerate(flag.constraints):
            if constraint.operator not in ("in", "not_in"):
                continue
            if constraint.attribute == "plan":
                known: frozenset[str] = frozenset(PLANS)
                what = "plan"
            elif constraint.attribute == "tenant":
                if tenants is None:
                    tenants = frozenset(ctx.resolved.tree.tenants())
                if not tenants:
                    continue  # no tenants/ folder to compare with (e.g. a runtime volume)
                known, what = tenants, "tenant"
            else:
                continue
            fold = constraint.case_insensitive
            unknown = [
                v for v in constraint.values if (v.casefold() if fold else v) not in _folded(known, fold)
            ]
            if unknown:
                yield RuleHit(
                    f"flags.{name}.constraints",
                    f"flag {name}: constraints[{index}] compares {what} with "
                    f"{', '.join(repr(v) for v in unknown)}, which is not a {what}",
                )


def _folded(values: frozenset[str], fold: bool) -> frozenset[str]:
    return frozenset(v.casefold() for v in values) if fold else values
