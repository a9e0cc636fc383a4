"""Comparing two configurations KEY by KEY, secrets masked. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tierconf.explain import shown
from tierconf.pipeline import ResolvedConfig
from tierconf.render._values import get_path, render_flag
from tierconf.schema._flags import flag_key
from tierconf.schema._registry import registry

Change = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class KeyChange:
    """One KEY that differs. Secret values are masked or fingerprinted, never plain."""

    key: str
    path: str
    change: Change
    left: str | None
    right: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "key": self.key,
            "path": self.path,
            "change": self.change,
            "left": self.left,
            "right": self.right,
        }


def flat_view(resolved: ResolvedConfig) -> dict[str, tuple[str, str]]:
    """KEY -> (path, shown value) for every setting and flag; secrets as references/masks."""
    out: dict[str, tuple[str, str]] = {}
    for spec in registry().settings:
        out[spec.key] = (spec.path, shown(get_path(resolved.config, spec.path), spec))
    for name, flag in resolved.config.flags.items():
        out[flag_key(name)] = (f"flags.{name}", render_flag(flag))
    return out


def diff_views(left: Mapping[str, tuple[str, str]], right: Mapping[str, tuple[str, str]]) -> list[KeyChange]:
    """Changes from ``left`` to ``right``, sorted by KEY."""
    changes: list[KeyChange] = []
    for key in sorted({*left, *right}):
        a, b = left.get(key), right.get(key)
        if a is None and b is not None:
            changes.append(KeyChange(key, b[0], "added", None, b[1]))
        elif b is None and a is not None:
            changes.append(KeyChange(key, a[0], "removed", a[1], None))
        elif a is not None and b is not None and a[1] != b[1]:
            changes.append(KeyChange(key, a[0], "changed", a[1], b[1]))
    return changes
