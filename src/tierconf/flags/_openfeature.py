"""An OpenFeature provider backed by a live configuration (extra ``runtime``).

    from openfeature import api
    from tierconf.flags import TierconfProvider

    api.set_provider(TierconfProvider(live))      # live: a tierconf.runtime.LiveConfig
    client = api.get_client()
    client.get_boolean_value("ai_recommendation", False,
                             EvaluationContext("u1", {"tenant": "acme", "plan": "pro"}))

The source is anything with ``snapshot()`` returning a :class:`~tierconf.schema.TierConfig`
and ``subscribe(callback, path="flags")`` calling ``callback(old, new)`` after a reload.

Context mapping: the targeting key is the user; the attributes ``tenant`` and ``plan`` are
the tenant and its plan (when ``plan`` is absent, the ``plans`` lookup given to the
provider is asked); every attribute is visible to constraints. ``current_time`` is filled
with the clock when a flag's constraints use it and the context does not give it.

Reasons: disabled -> DISABLED; denied, allowed, plan, constraint -> TARGETING_MATCH; split
-> SPLIT; default -> STATIC when the on-value is served to everyone, DEFAULT when the
default variant is. tierconf's own reason is in ``flag_metadata["tierconf_reason"]``.
Errors (the default value is returned): FLAG_NOT_FOUND for an unknown flag,
TYPE_MISMATCH when the flag's kind does not fit the resolver (a ``number`` flag fits
``integer`` only when the value is integral), PROVIDER_NOT_READY before a snapshot exists,
GENERAL for anything unexpected. A reload that changes flags emits
PROVIDER_CONFIGURATION_CHANGED with the names of the flags that changed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

try:
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.event import ProviderEventDetails
    from openfeature.exception import ErrorCode
    from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
    from openfeature.provider import AbstractProvider, Metadata
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the OpenFeature provider needs openfeature-sdk: pip install 'tierconf[runtime]'"
    ) from exc

from tierconf.flags._evaluate import Resolution, compile_flag
from tierconf.schema._flags import FlagDefinition
from tierconf.schema._root import TierConfig

log = logging.getLogger("tierconf.flags")

T = TypeVar("T")
PlanLookup = Mapping[str, str] | Callable[[str], "str | None"]
ObjectValue = Sequence[FlagValueType] | Mapping[str, FlagValueType]

_REASONS: Mapping[str, Reason] = {
    "disabled": Reason.DISABLED,
    "denied": Reason.TARGETING_MATCH,
    "allowed": Reason.TARGETING_MATCH,
    "plan": Reason.TARGETING_MATCH,
    "constraint": Reason.TARGETING_MATCH,
    "split": Reason.SPLIT,
    "error": Reason.ERROR,
}


class FlagSource(Protocol):
    """What the provider needs from a live configuration (``tierconf.runtime.LiveConfig``)."""

    def snapshot(self) -> TierConfig:
        """The configuration in use."""
        ...

    def subscribe(self, callback: Callable[[TierConfig, TierConfig], None], path: str = ...) -> Any:
        """Call ``callback(old, new)`` after a reload that changed ``path``."""
        ...


def changed_flags(old: Mapping[str, FlagDefinition], new: Mapping[str, FlagDefinition]) -> list[str]:
    """Names of the flags added, removed or changed between two snapshots, sorted."""
    return sorted(name for name in {*old, *new} if old.get(name) != new.get(name))


class TierconfProvider(AbstractProvider):
    """OpenFeature provider evaluating tierconf flags of a live configuration."""

    def __init__(
        self,
        source: FlagSource,
        *,
        plans: PlanLookup | None = None,
        clock: Callable[[], datetime] | None = None,
        name: str = "tierconf",
    ) -> None:
        """Create the provider.

        Args:
            source: The live configuration (``snapshot()`` and ``subscribe()``).
            plans: Tenant id -> plan, for contexts that give a tenant but no ``plan``.
            clock: Returns the current time for ``current_time`` (default: UTC now).
            name: Provider name reported in the metadata.
        """
        super().__init__()
        self._source = source
        self._plans = plans
        self._clock = clock or (lambda: datetime.now(UTC))
        self._name = name
        self._lock = threading.Lock()
        self._subscription: Any = None
        self._active = False

    # -- lifecycle --------------------------------------------------------------------------

    def get_metadata(self) -> Metadata:
        """The provider's name."""
        return Metadata(name=self._name)

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Subscribe to flag changes of the source."""
        with self._lock:
            if not self._active:
                self._subscription = self._source.subscribe(self._on_reload, path="flags")
                self._active = True

    def shutdown(self) -> None:
        """Stop forwarding reloads (unsubscribes when the source returned a handle)."""
        with self._lock:
            self._active = False
            subscription, self._subscription = self._subscription, None
        # LiveConfig returns a Subscription with cancel(); accept close() or a bare callable too.
        closer = getattr(subscription, "cancel", None) or getattr(subscription, "close", None)
        if closer is None and callable(subscription):
            closer = subscription
        if closer is not None:
            closer()

    def _on_reload(self, old: TierConfig, new: TierConfig) -> None:
        if not self._active:
            return
        names = changed_flags(old.flags, new.flags)
        if names:
            log.debug("flags changed on reload: %s", ", ".join(names))
            self.emit_provider_configuration_changed(
                ProviderEventDetails(flags_changed=names, message="tierconf flags reloaded")
            )

    # -- resolvers --------------------------------------------------------------------------

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        """Resolve a ``bool`` flag."""
        return self._resolve(flag_key, default_value, evaluation_context, ("bool",), _as_bool)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        """Resolve a ``string`` flag."""
        return self._resolve(flag_key, default_value, evaluation_context, ("string",), _as_str)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        """Resolve a ``number`` flag whose value is integral."""
        return self._resolve(flag_key, default_value, evaluation_context, ("number",), _as_int)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        """Resolve a ``number`` flag."""
        return self._resolve(flag_key, default_value, evaluation_context, ("number",), _as_float)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: ObjectValue,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[ObjectValue]:
        """Resolve a ``json`` flag whose value is an object or a list."""
        return self._resolve(flag_key, default_value, evaluation_context, ("json",), _as_object)

    def _resolve(
        self,
        flag_key: str,
        default: T,
        context: EvaluationContext | None,
        kinds: tuple[str, ...],
        convert: Callable[[Any], T | None],
    ) -> FlagResolutionDetails[T]:
        try:
            snapshot = self._source.snapshot()
        except Exception as exc:  # noqa: BLE001 - a provider reports, it does not raise
            return _error(default, ErrorCode.PROVIDER_NOT_READY, f"no configuration snapshot: {exc}")
        flag = snapshot.flags.get(flag_key)
        if flag is None:
            return _error(default, ErrorCode.FLAG_NOT_FOUND, f"no flag named {flag_key!r}")
        if flag.kind not in kinds:
            return _error(
                default,
                ErrorCode.TYPE_MISMATCH,
                f"flag {flag_key!r} is of kind {flag.kind}; use the resolver for {flag.kind} values",
            )
        try:
            resolution = self._evaluate(flag_key, flag, context)
        except Exception as exc:
            log.exception("evaluating flag %s failed", flag_key)
            return _error(default, ErrorCode.GENERAL, f"evaluating {flag_key!r} failed: {exc}")
        value = convert(resolution.value)
        if value is None:
            return _error(
                default,
                ErrorCode.TYPE_MISMATCH,
                f"flag {flag_key!r} served {resolution.value!r}, which does not fit this resolver",
            )
        return FlagResolutionDetails(
            value=value,
            variant=resolution.variant,
            reason=_reason(resolution, flag),
            flag_metadata=_metadata(resolution, flag),
        )

    def _evaluate(self, name: str, flag: FlagDefinition, context: EvaluationContext | None) -> Resolution:
        compiled = compile_flag(name, flag)
        attributes: dict[str, Any] = dict(context.attributes) if context is not None else {}
        user = context.targeting_key if context is not None else None
        tenant = attributes.get("tenant")
        tenant = str(tenant) if tenant is not None else None
        plan = attributes.get("plan")
        if plan is None and tenant is not None and self._plans is not None:
            plans = self._plans
            plan = plans.get(tenant) if isinstance(plans, Mapping) else plans(tenant)
        if "current_time" not in attributes and any(c.attribute == "current_time" for c in flag.constraints):
            attributes["current_time"] = self._clock()
        return compiled.resolve(tenant, user, str(plan) if plan is not None else None, attributes)


def _reason(resolution: Resolution, flag: FlagDefinition) -> Reason:
    if resolution.reason == "default":
        default = flag.default_variant or "off"
        return Reason.DEFAULT if resolution.variant == default else Reason.STATIC
    return _REASONS[resolution.reason]


def _metadata(resolution: Resolution, flag: FlagDefinition) -> dict[str, bool | str | int | float]:
    metadata: dict[str, bool | str | int | float] = {"tierconf_reason": resolution.reason}
    if flag.owner:
        metadata["owner"] = flag.owner
    if flag.expires:
        metadata["expires"] = flag.expires
    return metadata


def _error(default: T, code: ErrorCode, message: str) -> FlagResolutionDetails[T]:
    return FlagResolutionDetails(value=default, reason=Reason.ERROR, error_code=code, error_message=message)


def _as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _as_object(value: Any) -> ObjectValue | None:
    return value if isinstance(value, dict | list) else None
