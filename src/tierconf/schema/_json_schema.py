"""JSON Schema (draft 2020-12) for layer files, for editors (yaml-language-server).

Built from the registry, not from pydantic's model schema: layer files are partial (every
setting optional), derived settings are absent, secrets accept only references, and each
property carries its KEY, unit and tenant-overridability as ``x-tierconf-*`` annotations.
"""

from __future__ import annotations

from typing import Any

from tierconf.schema._registry import Bounds, LeafType, Registry, registry
from tierconf.schema._root import DOMAIN_MODELS

SECRET_REFERENCE_PATTERN = r"^\$\{(env|file):[^}]+\}$"  # noqa: S105 - a regex, not a password


def _scalar(leaf: LeafType, bounds: Bounds) -> dict[str, Any]:
    schema: dict[str, Any]
    if leaf.kind == "bool":
        schema = {"type": "boolean"}
    elif leaf.kind in ("int", "float"):
        schema = {"type": "integer" if leaf.kind == "int" else "number"}
        if bounds.ge is not None:
            schema["minimum"] = bounds.ge
        if bounds.le is not None:
            schema["maximum"] = bounds.le
        if bounds.gt is not None:
            schema["exclusiveMinimum"] = bounds.gt
    elif leaf.kind == "choice":
        schema = {"enum": list(leaf.choices)}
    elif leaf.kind == "secret":
        schema = {"type": "string", "pattern": SECRET_REFERENCE_PATTERN}
    else:
        schema = {"type": "string"}
        if bounds.min_length is not None:
            schema["minLength"] = bounds.min_length
        if bounds.max_length is not None:
            schema["maxLength"] = bounds.max_length
        if bounds.pattern is not None:
            schema["pattern"] = bounds.pattern
    return schema


def leaf_schema(leaf: LeafType, bounds: Bounds) -> dict[str, Any]:
    """Schema of one leaf value (a sequence's bounds apply to its items)."""
    if leaf.sequence:
        schema: dict[str, Any] = {"type": "array", "items": _scalar(leaf, bounds)}
    else:
        schema = _scalar(leaf, bounds)
    if leaf.optional:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def _object() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {}}


def layer_json_schema(reg: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema every layer file (base, tier, tenant, --values) satisfies."""
    reg = reg or registry()
    root = _object()
    root.update(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:tierconf:layer-file",
            "title": "tierconf layer file",
            "description": "A layer of the tierconf config tree: domains mapped to settings.",
        }
    )
    root["properties"]["plan"] = {
        "enum": ["free", "pro", "enterprise"],
        "description": "Tenant files only: the tenant's plan.",
    }
    for domain in DOMAIN_MODELS:
        root["properties"][domain] = _object()
    for spec in reg.settings:
        if spec.meta.derived:
            continue
        node = root
        parts = spec.path.split(".")
        for part in parts[:-1]:
            node = node["properties"].setdefault(part, _object())
        schema = leaf_schema(spec.type, spec.bounds)
        schema["description"] = f"{spec.meta.description} ({spec.key})"
        schema["x-tierconf-key"] = spec.key
        if spec.meta.unit:
            schema["x-tierconf-unit"] = spec.meta.unit
        schema["x-tierconf-tenant-overridable"] = spec.meta.tenant
        schema["x-tierconf-secret"] = spec.secret
        node["properties"][parts[-1]] = schema
    flag = _object()
    for name, field in reg.flag_fields.items():
        if field.structured is not None:
            # variants / constraints: lists of mappings, described by their pydantic model.
            item = field.structured.model_json_schema(ref_template="#/$defs/{model}")
            definitions = item.pop("$defs", {})
            root.setdefault("$defs", {}).update(definitions)
            field_schema: dict[str, Any] = {"type": "array", "items": item}
        else:
            field_schema = leaf_schema(field.type, field.bounds)
        flag["properties"][name] = {**field_schema, "description": field.description}
    root["properties"]["flags"] = {
        "type": "object",
        "description": "Feature flags, one mapping per flag.",
        "propertyNames": {"pattern": r"^[a-z][a-z0-9_]{0,62}$"},
        "additionalProperties": flag,
    }
    return root
