"""``live.flags``: feature flags of the snapshot in use, evaluated by ``tierconf.flags``.

Each applied update compiles its flags once (:class:`tierconf.flags.FlagEvaluator`, kept
in the :class:`LiveState`), so an evaluation is a dictionary lookup and a few comparisons
on whatever version is current, with the evaluation order and sticky bucketing of
CONTRACT.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tierconf.flags import Resolution

if TYPE_CHECKING:
    from tierconf.runtime._live import LiveConfig


class LiveFlags:
    """Flag evaluation on the live snapshot. ``tenant`` and ``plan`` default to the
    LiveConfig's own tenant and ``RuntimeOptions.plan`` (a per-tenant deployment)."""

    __slots__ = ("_live",)

    def __init__(self, live: LiveConfig) -> None:
        self._live = live

    def evaluate(
        self,
        name: str,
        *,
        tenant: str | None = None,
        user: str | None = None,
        plan: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Resolution:
        """The value, variant and reason for one context (FLAG_NOT_FOUND for unknown flags)."""
        live = self._live
        return live.state().flags.evaluate(
            name,
            tenant=tenant if tenant is not None else live.tenant,
            user=user,
            plan=plan if plan is not None else live.options.plan,
            attributes=attributes,
        )

    def is_enabled(
        self,
        name: str,
        *,
        tenant: str | None = None,
        user: str | None = None,
        plan: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Whether boolean flag ``name`` is on for the context (False if unknown)."""
        return self.evaluate(name, tenant=tenant, user=user, plan=plan, attributes=attributes).value is True

    def names(self) -> tuple[str, ...]:
        """The flags of the snapshot in use, sorted."""
        return self._live.state().flags.names()
