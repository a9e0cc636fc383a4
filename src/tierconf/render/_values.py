"""How typed values become ConfigMap strings (and back, for the runtime)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from tierconf.schema._flags import FlagDefinition
from tierconf.schema._registry import LeafType


def render_scalar(value: Any) -> str:
    """Render one value as ConfigMap text: ``true``/``false``, integers as written, lists
    comma-joined, ``None`` as the empty string. Integral floats drop the ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, tuple | list):
        return ",".join(render_scalar(item) for item in value)
    return str(value)


def render_flag(flag: FlagDefinition) -> str:
    """A flag's canonical JSON (sorted keys, compact) for its ``FLAG_<NAME>`` KEY."""
    return canonical_json(flag.model_dump(mode="json"))


def canonical_json(data: Any) -> str:
    """Stable JSON used for checksums and flag KEYs."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def get_path(root: BaseModel | Mapping[str, Any], path: str) -> Any:
    """Read a dotted path from a typed config (``database.postgres.pool_size``)."""
    node: Any = root
    for part in path.split("."):
        node = node[part] if isinstance(node, Mapping) else getattr(node, part)
    return node


def parse_rendered(text: str, leaf: LeafType) -> Any:
    """Inverse of :func:`render_scalar` for a setting's type (used by the runtime)."""
    from tierconf.sources._convert import convert_set_value

    if leaf.optional and text == "":
        return None
    if leaf.kind == "str":
        # ConfigMap text is already typed as text: "null" or "~" is that string, not null.
        if leaf.sequence:
            return tuple(part.strip() for part in text.split(",")) if text else ()
        return text
    return convert_set_value(text, leaf)
