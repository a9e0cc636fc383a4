"""``explain``: the winning value of one setting, where it was set, and what it overrode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tierconf.errors import UsageError
from tierconf.pipeline import ResolvedConfig
from tierconf.render._values import get_path, render_scalar
from tierconf.schema._registry import SettingSpec, registry
from tierconf.schema._secret_ref import MASK, SecretRef


@dataclass(frozen=True)
class ChainStep:
    """One layer's contribution, lowest precedence first."""

    layer: str
    where: str
    value: str


@dataclass(frozen=True)
class Explanation:
    """Everything ``explain`` prints, secrets already masked."""

    spec: SettingSpec
    value: str
    chain: tuple[ChainStep, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON form for ``--format json``."""
        return {
            "key": self.spec.key,
            "path": self.spec.path,
            "value": self.value,
            "secret": self.spec.secret,
            "tenant_overridable": self.spec.meta.tenant,
            "unit": self.spec.meta.unit,
            "description": self.spec.meta.description,
            "chain": [step.__dict__ for step in self.chain],
        }


def shown(value: Any, spec: SettingSpec) -> str:
    """A value as explain shows it: references as written, secrets masked."""
    if isinstance(value, SecretRef):
        return value.describe()
    if spec.secret and value is None:
        return f"(unset: resolved at render time from TIERCONF_SECRET_{spec.key}, --secrets-dir, ...)"
    if spec.secret and value is not None:
        return MASK
    from tierconf.rules import redact

    return redact(render_scalar(value) if not isinstance(value, str) else value)


def explain(resolved: ResolvedConfig, key_or_path: str) -> Explanation:
    """Explain one setting of ``resolved``.

    Raises:
        UsageError: unknown KEY or path (with a did-you-mean).
    """
    reg = registry()
    spec = reg.lookup(key_or_path) or reg.lookup(key_or_path.upper())
    if spec is None:
        import difflib

        close = difflib.get_close_matches(key_or_path, [*reg.by_key, *reg.by_path], n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UsageError(f"unknown setting {key_or_path!r}{hint}")
    steps = [ChainStep("default", "schema default", shown(spec.default, spec))]
    layered = resolved.values.get(spec.path)
    if layered is not None:
        steps.extend(ChainStep(o.layer, o.where(), shown(o.value, spec)) for o in layered.chain)
    final = get_path(resolved.config, spec.path)
    return Explanation(spec, shown(final, spec), tuple(steps))
