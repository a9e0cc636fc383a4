"""Evaluating a flag for one context: value, variant and the reason, like OpenFeature.

Order (CONTRACT.md, extended with constraints and variants), first match wins:

1. ``enabled: false``             -> default variant, reason ``disabled``
2. tenant in ``deny_tenants``     -> default variant, reason ``denied``
3. tenant in ``allow_tenants``    -> on, reason ``allowed`` (plans, constraints and the
   rollout are skipped)
4. ``plans`` set, plan not listed -> default variant, reason ``plan`` (an unknown plan is
   not listed)
5. a constraint does not hold     -> default variant, reason ``constraint``
6. rollout: on when the sticky bucket of (flag, tenant, user) is below
   ``rollout_percent * 100`` (see :mod:`tierconf.flags._bucket`), else the default
   variant.

"On" serves the variants split by weight (an independent sticky bucket picks one; a
boolean flag without variants serves ``on`` = true). The reason says what decided the
value: ``split`` when a bucket did (a partial rollout or a split between variants),
otherwise the most specific targeting that applied (``constraint``, then ``plan``), and
``default`` when nothing about the context mattered. A flag that does not exist gives
reason ``error`` with ``error_code`` ``FLAG_NOT_FOUND`` and value None.

Speed: each flag is compiled once (sets, thresholds and the resolutions it can return are
prepared; a compiled flag is cached by the identity of its frozen definition), so the
plain boolean path is a few comparisons and one hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from tierconf.flags._bucket import BUCKETS, NATIVE_HASH, ROLLOUT_SEED, SPLIT_SEED, PrefixHasher, hash_text
from tierconf.flags._constraints import Predicate, compile_constraint
from tierconf.schema._flags import FlagDefinition, FlagVariant

Reason = Literal["disabled", "denied", "allowed", "plan", "constraint", "split", "default", "error"]
ErrorCode = Literal["FLAG_NOT_FOUND", "TYPE_MISMATCH", "PARSE_ERROR", "GENERAL"]

REASONS: Final = ("disabled", "denied", "allowed", "plan", "constraint", "split", "default", "error")
_MAX_CACHED = 4096


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of evaluating one flag (OpenFeature's resolution details).

    Attributes:
        value: The value served (True/False for a boolean flag; None on error).
        variant: The variant's name (``on``/``off`` for a boolean flag without variants).
        reason: Why: disabled, denied, allowed, plan, constraint, split, default or error.
        error_code: FLAG_NOT_FOUND, TYPE_MISMATCH, PARSE_ERROR or GENERAL; None when fine.
        error_message: Human explanation of the error, if any.
    """

    value: Any
    variant: str | None
    reason: Reason
    error_code: ErrorCode | None = None
    error_message: str | None = None

    @property
    def enabled(self) -> bool:
        """Whether the flag is on: the value is True (for a typed flag: not the default variant)."""
        return self.value is True


_ON = FlagVariant(name="on", value=True, weight=100)
_OFF = FlagVariant(name="off", value=False)


def not_found(name: str) -> Resolution:
    """The resolution of a flag that does not exist."""
    return Resolution(None, None, "error", "FLAG_NOT_FOUND", f"no flag named {name!r}")


class CompiledFlag:
    """One flag prepared for fast evaluation; build with :func:`compile_flag`."""

    __slots__ = (
        "_allow",
        "_bounds",
        "_constraints",
        "_deny",
        "_enabled",
        "_fixed",
        "_off",
        "_on_reason",
        "_partial",
        "_plans",
        "_prefix",
        "_rollout_by_tenant",
        "_rollout_hash",
        "_split",
        "_split_by_tenant",
        "_split_hash",
        "_threshold",
        "definition",
        "name",
    )

    def __init__(self, name: str, flag: FlagDefinition) -> None:
        self.name = name
        self.definition = flag
        self._prefix = name + ":"
        # Without mmh3, hash the "flag:" prefix once per flag (see PrefixHasher).
        self._rollout_hash = None if NATIVE_HASH else PrefixHasher(self._prefix, ROLLOUT_SEED)
        self._split_hash = None if NATIVE_HASH else PrefixHasher(self._prefix, SPLIT_SEED)
        self._rollout_by_tenant: dict[str, PrefixHasher] = {}
        self._split_by_tenant: dict[str, PrefixHasher] = {}
        self._enabled = flag.enabled
        self._deny = frozenset(flag.deny_tenants)
        self._allow = frozenset(flag.allow_tenants)
        self._plans: frozenset[str] | None = frozenset(flag.plans) if flag.plans else None
        self._constraints: tuple[Predicate, ...] = tuple(compile_constraint(c) for c in flag.constraints)
        self._threshold = flag.rollout_percent * 100
        self._partial = 0 < self._threshold < BUCKETS
        variants = flag.variants or (_ON, _OFF)
        default = next(v for v in variants if v.name == (flag.default_variant or "off"))
        self._off = {
            reason: Resolution(default.value, default.name, reason)
            for reason in ("disabled", "denied", "plan", "constraint", "split", "default")
        }
        weighted = [v for v in variants if v.weight > 0]
        total = sum(v.weight for v in weighted)
        self._on_reason: Reason = (
            "split"
            if self._partial or len(weighted) > 1
            else "constraint"
            if flag.constraints
            else "plan"
            if flag.plans
            else "default"
        )
        self._split = len(weighted) > 1
        # Cumulative bucket bounds of the weighted variants: bucket < bound[i] picks i.
        bounds: list[int] = []
        running = 0.0
        for variant in weighted:
            running += variant.weight
            bounds.append(round(running / total * BUCKETS))
        if bounds:
            bounds[-1] = BUCKETS
        self._bounds = tuple(zip(bounds, weighted, strict=True))
        fixed = weighted[0] if len(weighted) == 1 else default
        self._fixed = {
            reason: Resolution(fixed.value, fixed.name, reason)
            for reason in ("allowed", "plan", "constraint", "split", "default")
        }

    def resolve(  # noqa: PLR0912 - one flat function keeps the hot path free of calls
        self,
        tenant: str | None = None,
        user: str | None = None,
        plan: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Resolution:
        """Evaluate this flag for one context (see the module docstring for the order)."""
        if not self._enabled:
            return self._off["disabled"]
        if tenant is not None:
            if tenant in self._deny:
                return self._off["denied"]
            if tenant in self._allow:
                return self._on(tenant, user, "allowed")
        if self._plans is not None and plan not in self._plans:
            return self._off["plan"]
        if self._constraints:
            lookup = _lookup(tenant, user, plan, attributes)
            for predicate in self._constraints:
                if not predicate(lookup):
                    return self._off["constraint"]
        if self._partial:
            suffix: str | None = None  # the native hash takes the whole key; the pure one, the user
            if self._rollout_hash is None:
                suffix = f"{tenant or ''}:{user or ''}"
                slot = hash_text(self._prefix + suffix, ROLLOUT_SEED) % BUCKETS
            else:
                hasher = _by_tenant(self._rollout_by_tenant, self._prefix, tenant, ROLLOUT_SEED)
                slot = hasher(user or "") % BUCKETS
            if slot >= self._threshold:
                return self._off["split"]
            return self._on(tenant, user, "split", suffix)
        if self._threshold <= 0:
            return self._off["default"]
        return self._on(tenant, user, self._on_reason)

    def _on(
        self, tenant: str | None, user: str | None, reason: Reason, suffix: str | None = None
    ) -> Resolution:
        if not self._split:
            return self._fixed[reason]
        if suffix is None:
            suffix = f"{tenant or ''}:{user or ''}"
        if self._split_hash is None:
            slot = hash_text(self._prefix + suffix, SPLIT_SEED) % BUCKETS
        else:
            hasher = _by_tenant(self._split_by_tenant, self._prefix, tenant, SPLIT_SEED)
            slot = hasher(user or "") % BUCKETS
        for bound, variant in self._bounds:
            if slot < bound:
                return Resolution(variant.value, variant.name, "allowed" if reason == "allowed" else "split")
        raise AssertionError("unreachable: the last bound is BUCKETS")  # pragma: no cover


_TENANTS_KEPT = 4096


def _by_tenant(table: dict[str, PrefixHasher], prefix: str, tenant: str | None, seed: int) -> PrefixHasher:
    """The pure-Python hasher of ``flag:tenant:`` (tenants are few, users many: mixing the
    tenant's bytes once per tenant leaves only the user's to hash per evaluation)."""
    key = tenant or ""
    hasher = table.get(key)
    if hasher is None:
        if len(table) >= _TENANTS_KEPT:
            table.clear()
        hasher = table[key] = PrefixHasher(f"{prefix}{key}:", seed)
    return hasher


def _lookup(
    tenant: str | None, user: str | None, plan: str | None, attributes: Mapping[str, Any] | None
) -> Any:
    def lookup(name: str) -> Any:
        if attributes is not None:
            value = attributes.get(name)
            if value is not None:
                return value
        if name == "tenant":
            return tenant
        if name == "user":
            return user
        if name == "plan":
            return plan
        return None

    return lookup


_cache: dict[int, tuple[FlagDefinition, str, CompiledFlag]] = {}


def compile_flag(name: str, flag: FlagDefinition) -> CompiledFlag:
    """The compiled form of a flag, cached by the identity of the (frozen) definition."""
    entry = _cache.get(id(flag))
    if entry is not None and entry[0] is flag and entry[1] == name:
        return entry[2]
    compiled = CompiledFlag(name, flag)
    if len(_cache) >= _MAX_CACHED:
        _cache.clear()
    # The definition is kept in the entry so its id cannot be reused while cached.
    _cache[id(flag)] = (flag, name, compiled)
    return compiled


def evaluate(
    flags: Mapping[str, FlagDefinition],
    name: str,
    *,
    tenant: str | None = None,
    user: str | None = None,
    plan: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Resolution:
    """Evaluate flag ``name`` of ``flags`` (e.g. ``snapshot.flags``) for one context.

    Args:
        flags: Flag definitions by name, as in ``TierConfig.flags``.
        name: The flag to evaluate.
        tenant: Tenant id (allow/deny lists, bucketing); None for no tenant.
        user: User id within the tenant (bucketing); None buckets the tenant as a whole.
        plan: The tenant's plan (free, pro, enterprise); None matches no ``plans`` list.
        attributes: Further context for constraints (``country``, ``app_version``,
            ``current_time``...). They may also override tenant/user/plan for constraints.

    Returns:
        The :class:`Resolution`; never raises for an unknown flag (FLAG_NOT_FOUND).
    """
    flag = flags.get(name)
    if flag is None:
        return not_found(name)
    entry = _cache.get(id(flag))
    if entry is None or entry[0] is not flag or entry[1] != name:
        return compile_flag(name, flag).resolve(tenant, user, plan, attributes)
    return entry[2].resolve(tenant, user, plan, attributes)


def is_enabled(
    flags: Mapping[str, FlagDefinition],
    name: str,
    *,
    tenant: str | None = None,
    user: str | None = None,
    plan: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> bool:
    """Whether a boolean flag is on for the context (False for an unknown flag)."""
    return evaluate(flags, name, tenant=tenant, user=user, plan=plan, attributes=attributes).value is True


class FlagEvaluator:
    """All flags of one snapshot, compiled up front (for a runtime holding a snapshot)."""

    __slots__ = ("_compiled",)

    def __init__(self, flags: Mapping[str, FlagDefinition]) -> None:
        self._compiled = {name: CompiledFlag(name, flag) for name, flag in flags.items()}

    def __contains__(self, name: object) -> bool:
        return name in self._compiled

    def names(self) -> tuple[str, ...]:
        """The flag names, sorted."""
        return tuple(sorted(self._compiled))

    def definition(self, name: str) -> FlagDefinition | None:
        """The definition of a flag, or None."""
        compiled = self._compiled.get(name)
        return compiled.definition if compiled is not None else None

    def evaluate(
        self,
        name: str,
        *,
        tenant: str | None = None,
        user: str | None = None,
        plan: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Resolution:
        """Like :func:`evaluate` for this evaluator's flags."""
        compiled = self._compiled.get(name)
        if compiled is None:
            return not_found(name)
        return compiled.resolve(tenant, user, plan, attributes)

    def is_enabled(
        self,
        name: str,
        *,
        tenant: str | None = None,
        user: str | None = None,
        plan: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Like :func:`is_enabled` for this evaluator's flags."""
        return self.evaluate(name, tenant=tenant, user=user, plan=plan, attributes=attributes).value is True
