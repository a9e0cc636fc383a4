"""Reading one layer file into flat, typed entries with line numbers.

A layer is a mapping from a setting's dotted path to the value it sets and the line that
set it. The walk follows the schema: groups must be mappings, leaves are converted by type,
unknown names get a did-you-mean, and tenant files may only touch tenant-overridable
settings. Problems are collected (not raised one by one) so a user sees all of them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from tierconf.errors import (
    ConfigError,
    Location,
    SchemaError,
    TenantGuardrailError,
    YamlSyntaxError,
)
from tierconf.provenance import LayeredValue, Origin
from tierconf.schema._flags import FLAG_NAME
from tierconf.schema._registry import LeafType, Registry, ScalarKind, registry
from tierconf.schema._root import DOMAINS
from tierconf.sources._convert import ConversionError, convert_scalar, convert_set_value
from tierconf.sources._yaml import YMap, YNode, YScalar, YSeq, parse_yaml, read_text

LayerKind = Literal["base", "environment", "tenant", "values", "set", "derived"]
PLANS = ("free", "pro", "enterprise")

#: Nodes visited per file before we call it an alias bomb. Real layer files have < 2,000.
MAX_NODES = 50_000
#: Fields of structured flag items whose scalars are read as written (never as numbers).
_TEXT_FIELDS = {
    "FlagVariant": frozenset({"name"}),
    "FlagConstraint": frozenset({"attribute", "values"}),
}
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9]+$")
_YAML11_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})


def json_scalar(node: YScalar) -> Any:
    """A scalar typed as JSON reads it: quoted text stays text; plain ``null``, ``true``,
    ``false``, integers and numbers are typed; anything else is text.

    Raises:
        ConversionError: ambiguous YAML 1.1 spellings (``yes``, ``on``, ``010``).
    """
    text = node.text
    if not node.plain:
        return text
    if node.is_null:
        return None
    if text in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return convert_set_value(text, LeafType("bool"))
    if _LEADING_ZERO.match(text):
        raise ConversionError(f"{text!r} has a leading zero (YAML 1.1 octal); quote it or drop the zero")
    if text.lower() in _YAML11_WORDS:
        raise ConversionError(f"ambiguous YAML 1.1 boolean {text!r}; write true or false, or quote it")
    kinds: tuple[ScalarKind, ...] = ("int", "float")
    for kind in kinds:
        try:
            return convert_set_value(text, LeafType(kind))
        except ConversionError:
            continue
    return text


@dataclass(frozen=True, slots=True)
class Entry:
    """A value set by a layer and the 1-based line that set it (None for --set)."""

    value: Any
    line: int | None


@dataclass(frozen=True)
class Layer:
    """One source of values in the precedence chain."""

    kind: LayerKind
    name: str
    file: str | None
    entries: Mapping[str, Entry] = field(default_factory=dict)
    plan: str | None = None
    plan_line: int | None = None

    @classmethod
    def prebuilt(
        cls,
        kind: LayerKind,
        name: str,
        file: str | None,
        entries: Mapping[str, Entry],
        layered: Mapping[str, LayeredValue],
    ) -> Layer:
        """A layer whose one-layer provenance (``layered``, as :attr:`layered` would build
        it from ``entries``) the caller already holds: the runtime keeps both per KEY
        content, so an update re-uses every unchanged KEY's objects."""
        layer = cls(kind, name, file, entries)
        layer.__dict__["layered"] = layered  # the cached_property's slot: computed already
        return layer

    @cached_property
    def layered(self) -> Mapping[str, LayeredValue]:
        """Each entry as a one-layer :class:`LayeredValue`, built on first use and kept.

        A layer is immutable once built, so a layer shared by many merges (a base or tier
        file merged under thousands of tenants) pays for its provenance objects once.
        """
        return {
            path: LayeredValue(path, (Origin(self.name, self.kind, self.file, entry.line, entry.value),))
            for path, entry in self.entries.items()
        }


@dataclass(frozen=True)
class LayerRead:
    """A layer and the problems found reading it (the layer holds what was valid)."""

    layer: Layer
    problems: tuple[ConfigError, ...]


class _Walker:
    def __init__(self, display: str, kind: LayerKind, reg: Registry) -> None:
        self.display = display
        self.kind = kind
        self.reg = reg
        self.entries: dict[str, Entry] = {}
        self.problems: list[ConfigError] = []
        self.visited = 0
        self.plan: str | None = None
        self.plan_line: int | None = None

    def loc(self, line: int | None) -> Location:
        return Location(self.display, line)

    def problem(self, error: ConfigError) -> None:
        self.problems.append(error)

    def count(self, line: int) -> None:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise YamlSyntaxError(
                f"file expands to more than {MAX_NODES} values (alias/anchor bomb?)",
                location=self.loc(line),
            )

    def root(self, node: YNode | None) -> None:
        if node is None:
            return
        if not isinstance(node, YMap):
            self.problem(
                SchemaError(
                    f"a layer file must be a mapping of domain names ({', '.join(DOMAINS)}) to settings",
                    location=self.loc(node.line),
                )
            )
            return
        for key, value in node.pairs:
            self.count(key.line)
            name = key.text
            if name == "plan" and self.kind == "tenant":
                self.read_plan(value)
            elif name == "flags":
                self.flags(value)
            elif name in DOMAINS:
                self.group(name, value)
            else:
                expected = [*DOMAINS, "plan"] if self.kind == "tenant" else list(DOMAINS)
                self.unknown(name, "", expected, key.line)

    def read_plan(self, node: YNode) -> None:
        if isinstance(node, YScalar) and node.text in PLANS:
            self.plan, self.plan_line = node.text, node.line
        else:
            shown = node.text if isinstance(node, YScalar) else type(node).__name__
            self.problem(
                SchemaError(
                    f"plan must be one of {', '.join(PLANS)}, found {shown!r}",
                    location=self.loc(node.line),
                    path="plan",
                )
            )

    def unknown(self, name: str, parent: str, siblings: list[str], line: int) -> None:
        where = f"under {parent}" if parent else "at the top level"
        close = difflib.get_close_matches(name, siblings, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        spec = self.reg.by_key.get(name)
        if spec is not None:
            hint = f"; {name} is a flat KEY, in a layer file write its path {spec.path}"
        path = f"{parent}.{name}" if parent else name
        self.problem(
            SchemaError(
                f"unknown setting {name!r} {where}{hint} (expected one of: {', '.join(siblings)})",
                location=self.loc(line),
                path=path,
            )
        )

    def group(self, path: str, node: YNode) -> None:
        if not isinstance(node, YMap):
            if isinstance(node, YScalar) and node.is_null:
                return  # an empty section, e.g. "ml:" with everything commented out
            self.problem(
                SchemaError(
                    f"{path} is a group of settings and must be a mapping",
                    location=self.loc(node.line),
                    path=path,
                )
            )
            return
        for key, value in node.pairs:
            self.count(key.line)
            child = f"{path}.{key.text}"
            if child in self.reg.groups:
                self.group(child, value)
            elif child in self.reg.by_path:
                self.leaf(child, key, value)
            else:
                self.unknown(key.text, path, self.reg.children(path), key.line)

    def leaf(self, path: str, key: YScalar, node: YNode) -> None:
        spec = self.reg.by_path[path]
        if spec.meta.derived:
            self.problem(
                SchemaError(
                    f"{path} ({spec.key}) is derived by tierconf and cannot be set; remove it",
                    location=self.loc(key.line),
                    path=path,
                )
            )
            return
        if self.kind == "tenant" and not spec.meta.tenant:
            self.problem(
                TenantGuardrailError(
                    f"{path} ({spec.key}) is not tenant-overridable; tenant files may only set "
                    "tenant-overridable settings (see `tierconf schema export`)",
                    location=self.loc(key.line),
                    path=path,
                )
            )
            return
        try:
            value = self.convert(node, spec.type)
        except ConversionError as exc:
            self.problem(SchemaError(f"{path} ({spec.key}): {exc}", location=self.loc(node.line), path=path))
            return
        self.entries[path] = Entry(value, node.line)

    def convert(self, node: YNode, leaf: LeafType) -> Any:
        if leaf.sequence:
            if isinstance(node, YScalar) and node.is_null and leaf.optional:
                return None
            if not isinstance(node, YSeq):
                raise ConversionError(f"expected {leaf.describe()}, found a single value; use [a, b]")
            item_type = LeafType(leaf.kind, leaf.choices)
            items = []
            for item in node.items:
                self.count(item.line)
                if not isinstance(item, YScalar):
                    raise ConversionError("list items must be single values")
                items.append(convert_scalar(item.text, item.plain, item_type))
            return tuple(items)
        if not isinstance(node, YScalar):
            shape = "a list" if isinstance(node, YSeq) else "a mapping"
            raise ConversionError(f"expected {leaf.describe()}, found {shape}")
        return convert_scalar(node.text, node.plain, leaf)

    def flags(self, node: YNode) -> None:
        if self.kind == "tenant":
            self.problem(
                TenantGuardrailError(
                    "flags are not tenant-overridable; target tenants with allow_tenants / "
                    "deny_tenants in the flag definition",
                    location=self.loc(node.line),
                    path="flags",
                )
            )
            return
        if isinstance(node, YScalar) and node.is_null:
            return
        if not isinstance(node, YMap):
            self.problem(SchemaError("flags must be a mapping of flag names", location=self.loc(node.line)))
            return
        fields = self.reg.flag_fields
        for name_node, definition in node.pairs:
            self.count(name_node.line)
            name = name_node.text
            if not FLAG_NAME.match(name):
                self.problem(
                    SchemaError(
                        f"flag name {name!r} must be lower_snake_case (a-z, 0-9, _)",
                        location=self.loc(name_node.line),
                        path=f"flags.{name}",
                    )
                )
                continue
            if not isinstance(definition, YMap):
                self.problem(
                    SchemaError(
                        f"flags.{name} must be a mapping (enabled, rollout_percent, ...)",
                        location=self.loc(definition.line),
                        path=f"flags.{name}",
                    )
                )
                continue
            # A flag that exists in a layer exists even if it only sets defaults.
            self.entries.setdefault(f"flags.{name}", Entry(True, name_node.line))
            for key, value in definition.pairs:
                self.count(key.line)
                path = f"flags.{name}.{key.text}"
                spec = fields.get(key.text)
                if spec is None:
                    self.unknown(key.text, f"flags.{name}", sorted(fields), key.line)
                    continue
                if spec.structured is not None:
                    self.structured_flag_field(path, value, spec.structured)
                    continue
                try:
                    self.entries[path] = Entry(self.convert(value, spec.type), value.line)
                except ConversionError as exc:
                    self.problem(SchemaError(f"{path}: {exc}", location=self.loc(value.line), path=path))

    def structured_flag_field(self, path: str, node: YNode, model: type[BaseModel]) -> None:
        """Read a list of mappings (``variants``, ``constraints``), each checked by ``model``.

        Every problem names the item and field (``flags.x.variants[1].weight``) at the
        line of the offending value; the field is set only when every item is valid.
        """
        if isinstance(node, YScalar) and node.is_null:
            self.entries[path] = Entry((), node.line)
            return
        if not isinstance(node, YSeq):
            self.problem(
                SchemaError(
                    f"{path} must be a list of mappings ({', '.join(model.model_fields)})",
                    location=self.loc(node.line),
                    path=path,
                )
            )
            return
        items: list[BaseModel] = []
        failed = False
        for index, item in enumerate(node.items):
            self.count(item.line)
            where = f"{path}[{index}]"
            if not isinstance(item, YMap):
                self.problem(
                    SchemaError(
                        f"{where} must be a mapping ({', '.join(model.model_fields)})",
                        location=self.loc(item.line),
                        path=path,
                    )
                )
                failed = True
                continue
            lines: dict[tuple[str | int, ...], int] = {(): item.line}
            try:
                data = self.plain_mapping(item, (), lines, _TEXT_FIELDS.get(model.__name__, frozenset()))
            except ConversionError as exc:
                self.problem(SchemaError(f"{where}: {exc}", location=self.loc(item.line), path=path))
                failed = True
                continue
            try:
                items.append(model.model_validate(data))
            except ValidationError as exc:
                failed = True
                for error in exc.errors():
                    loc = tuple(error["loc"])
                    line = next(lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines)
                    field_path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
                    message = str(error["msg"]).removeprefix("Value error, ")
                    self.problem(
                        SchemaError(f"{where}{field_path}: {message}", location=self.loc(line), path=path)
                    )
        if not failed:
            self.entries[path] = Entry(tuple(items), node.line)

    def plain_mapping(
        self,
        node: YMap,
        loc: tuple[str | int, ...],
        lines: dict[tuple[str | int, ...], int],
        text_fields: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """A YAML mapping as plain data (JSON-like), recording the line of every value."""
        data: dict[str, Any] = {}
        for key, value in node.pairs:
            self.count(key.line)
            here = (*loc, key.text)
            lines[here] = value.line
            data[key.text] = self.plain_data(value, here, lines, as_text=key.text in text_fields)
        return data

    def plain_data(
        self, node: YNode, loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int], as_text: bool
    ) -> Any:
        """A YAML node as plain data: scalars typed as JSON would (or kept as text)."""
        if isinstance(node, YMap):
            return self.plain_mapping(node, loc, lines)
        if isinstance(node, YSeq):
            items = []
            for index, item in enumerate(node.items):
                self.count(item.line)
                lines[(*loc, index)] = item.line
                items.append(self.plain_data(item, (*loc, index), lines, as_text))
            return items
        if as_text:
            return node.text
        return json_scalar(node)


def read_layer(path: Path, display: str, kind: LayerKind, name: str | None = None) -> LayerRead:
    """Read and check one layer file; never raises for problems in the file itself.

    Args:
        path: The file to read.
        display: How the file is named in messages (``config/base/database.yaml``).
        kind: Which layer of the precedence chain this is (tenant files are restricted).
        name: Stable layer name for provenance (relative path); defaults to ``display``.
    """
    name = name or display
    walker = _Walker(display, kind, registry())
    try:
        walker.root(parse_yaml(read_text(path, display), display))
    except YamlSyntaxError as exc:
        return LayerRead(Layer(kind, name, display), (exc,))
    layer = Layer(kind, name, display, walker.entries, walker.plan, walker.plan_line)
    return LayerRead(layer, tuple(walker.problems))
