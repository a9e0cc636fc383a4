"""Declaring settings: one call per setting carries everything the pipeline needs.

A setting is a pydantic field whose ``json_schema_extra`` holds a :class:`SettingMeta`
under the ``"tierconf"`` key. The registry (``schema/_registry.py``) reads these back to
build the flat KEY table, the tenant guardrail, secret handling and the JSON Schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict, Field

MergeStrategy = Literal["replace", "merge"]

#: Model config shared by every domain model: immutable, no unknown keys, no coercion
#: from strings hidden in YAML (the loader does type-directed conversion itself).
DOMAIN_MODEL_CONFIG = ConfigDict(frozen=True, extra="forbid", validate_default=True)


@dataclass(frozen=True, slots=True)
class SettingMeta:
    """What the schema says about one setting beyond its Python type.

    Attributes:
        key: The flat ConfigMap KEY (``DB_POOL_SIZE``). Unique across all domains.
        description: One sentence for people; shown by ``explain`` and the JSON Schema.
        unit: Unit of the value (``seconds``, ``MiB``, ``percent``...) or ``None``.
        secret: The value is a credential: layer files hold a reference, never plaintext.
        tenant: A tenant overlay may override this setting.
        derived: Computed by tierconf (e.g. from the tier); setting it in a layer is an error.
        merge: For list and mapping values, how a higher layer combines with a lower one.
    """

    key: str
    description: str
    unit: str | None = None
    secret: bool = False
    tenant: bool = False
    derived: bool = False
    merge: MergeStrategy = "replace"


def setting(
    default: Any,
    *,
    key: str,
    description: str,
    unit: str | None = None,
    secret: bool = False,
    tenant: bool = False,
    derived: bool = False,
    merge: MergeStrategy = "replace",
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    """Declare a setting field.

    Bounds (``ge``/``le``/``gt``/lengths/``pattern``) are enforced by pydantic and exported to
    the JSON Schema, so editors show them too.
    """
    meta = SettingMeta(
        key=key,
        description=description,
        unit=unit,
        secret=secret,
        tenant=tenant,
        derived=derived,
        merge=merge,
    )
    constraints: dict[str, Any] = {
        name: value
        for name, value in {
            "ge": ge,
            "le": le,
            "gt": gt,
            "min_length": min_length,
            "max_length": max_length,
            "pattern": pattern,
        }.items()
        if value is not None
    }
    extra: Any = {"tierconf": meta}
    return Field(default=default, description=description, json_schema_extra=extra, **constraints)


def group(model: type[Any]) -> Any:
    """Declare a nested group of settings whose default is the group's own defaults."""
    return Field(default_factory=model)
