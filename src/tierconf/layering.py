"""Merging layers in precedence order with per-field strategies from the schema.

Precedence, lowest first: base < environments/<tier> < tenants/<id> < each --values file
< each --set. A layer only overrides the leaves it names, so groups merge deeply by
construction; list settings replace unless the schema declares ``merge="merge"`` (ordered
union). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tierconf.provenance import LayeredValue, Origin
from tierconf.schema._registry import Registry
from tierconf.sources._layer import Layer


def _combine(previous: Any, new: Any, strategy: str) -> Any:
    if strategy == "merge" and isinstance(previous, tuple) and isinstance(new, tuple):
        return tuple(dict.fromkeys((*previous, *new)))
    return new


def merge_layers(layers: Iterable[Layer], reg: Registry) -> dict[str, LayeredValue]:
    """Merge layers (lowest precedence first) into path -> LayeredValue."""
    chains: dict[str, list[Origin]] = {}
    for layer in layers:
        for path, entry in layer.entries.items():
            chain = chains.setdefault(path, [])
            value = entry.value
            spec = reg.by_path.get(path)
            if chain and spec is not None:
                value = _combine(chain[-1].value, value, spec.meta.merge)
            chain.append(Origin(layer.name, layer.kind, layer.file, entry.line, value))
    return {path: LayeredValue(path, tuple(chain)) for path, chain in chains.items()}


def nest(values: Mapping[str, LayeredValue]) -> dict[str, Any]:
    """Turn flat dotted paths into the nested dict pydantic validates."""
    root: dict[str, Any] = {}
    # Shorter paths first so that a flag's existence marker ("flags.x") creates the mapping
    # before its fields are set.
    for path in sorted(values, key=lambda p: p.count(".")):
        parts = path.split(".")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts[0] == "flags" and len(parts) == 2:
            node.setdefault(parts[1], {})
        else:
            node[parts[-1]] = values[path].value
    return root
