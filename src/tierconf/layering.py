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
    merged: dict[str, LayeredValue] = {}
    merge_paths = reg.merge_paths
    for layer in layers:
        # A path set by one layer only (most of them) keeps that layer's own LayeredValue,
        # built once per layer: merging allocates only for the paths a later layer overrides.
        for path, single in layer.layered.items():
            below = merged.setdefault(path, single)
            if below is single:
                continue
            origin = single.chain[0]
            if path in merge_paths:
                value = _combine(below.value, origin.value, "merge")
                if value is not origin.value:
                    origin = Origin(origin.layer, origin.kind, origin.file, origin.line, value)
            merged[path] = LayeredValue(path, (*below.chain, origin))
    return merged


def nest(values: Mapping[str, LayeredValue]) -> dict[str, Any]:
    """Turn flat dotted paths into the nested dict pydantic validates."""
    root: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {"": root}  # dotted prefix -> its mapping
    unmarked: list[str] = []  # flags created by a field before any "flags.<name>" marker
    for path, layered in values.items():
        prefix, _, name = path.rpartition(".")
        node = groups.get(prefix)
        if node is None:
            node = _group(groups, prefix, unmarked)
        if prefix == "flags":  # a flag's existence marker: the mapping exists even if empty
            groups[path] = node.setdefault(name, {})
        else:
            node[name] = layered.chain[-1].value
    if unmarked:
        _order_flags(root["flags"], values)
    return root


def _group(groups: dict[str, dict[str, Any]], prefix: str, unmarked: list[str]) -> dict[str, Any]:
    parent_prefix, _, name = prefix.rpartition(".")
    parent = groups.get(parent_prefix)
    if parent is None:
        parent = _group(groups, parent_prefix, unmarked)
    if parent_prefix == "flags":
        unmarked.append(name)
    node: dict[str, Any] = parent.setdefault(name, {})
    groups[prefix] = node
    return node


def _order_flags(flags: dict[str, Any], values: Mapping[str, LayeredValue]) -> None:
    """Flags in the order they are declared: by marker first, then flags only --set creates."""
    declared = [path[6:] for path in values if path.startswith("flags.") and path.count(".") == 1]
    order = {name: index for index, name in enumerate(dict.fromkeys([*declared, *flags]))}
    for name in sorted(flags, key=order.__getitem__):
        flags[name] = flags.pop(name)
