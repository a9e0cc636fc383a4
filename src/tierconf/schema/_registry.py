"""The settings registry: every leaf of the schema as one :class:`SettingSpec`.

Built once from the pydantic models' field metadata. Everything that needs to know about
settings in general (the loader, ``--set``, rendering, the tenant guardrail, the JSON Schema,
the seed's validator) asks the registry instead of walking models again.
"""

from __future__ import annotations

import builtins
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tierconf.schema._fields import SettingMeta
from tierconf.schema._flags import STRUCTURED_FLAG_FIELDS, FlagDefinition
from tierconf.schema._secret_ref import SecretRef

ScalarKind = Literal["bool", "int", "float", "str", "choice", "secret"]


@dataclass(frozen=True, slots=True)
class LeafType:
    """The shape of a leaf value as the loader understands it.

    ``kind`` is the scalar kind (of the items, for a sequence); ``choices`` the allowed
    strings of a Literal; ``sequence`` whether the value is a tuple of such scalars;
    ``optional`` whether ``null`` is accepted.
    """

    kind: ScalarKind
    choices: tuple[str, ...] = ()
    sequence: bool = False
    optional: bool = False

    def describe(self) -> str:
        """Human wording of the expected type, used in error messages."""
        if self.kind == "choice":
            base = "one of " + ", ".join(self.choices)
        else:
            base = {
                "bool": "a boolean (true or false)",
                "int": "an integer",
                "float": "a number",
                "str": "a string",
                "secret": "a secret reference (${env:NAME} or ${file:PATH})",
            }[self.kind]
        if self.sequence:
            base = f"a list of {base.removeprefix('a ').removeprefix('an ')}"
        return base + (" or null" if self.optional else "")


@dataclass(frozen=True, slots=True)
class Bounds:
    """Numeric and length bounds of a setting, for messages and the JSON Schema."""

    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One setting: its nested path, flat KEY, type, default and metadata."""

    path: str
    domain: str
    meta: SettingMeta
    type: LeafType
    default: Any
    bounds: Bounds
    key: str = field(init=False, repr=False, compare=False)
    """The flat ConfigMap KEY (``meta.key``, copied: it is read for every setting of every render)."""
    secret: bool = field(init=False, repr=False, compare=False)
    """Whether the setting is a credential (``meta.secret``, copied like ``key``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", self.meta.key)
        object.__setattr__(self, "secret", self.meta.secret)


class SchemaDefinitionError(Exception):
    """A programming error in the schema itself (a KEY owned twice, an unsupported type)."""


def leaf_type(annotation: Any) -> LeafType:
    """Classify a field annotation into a :class:`LeafType`; raise for unsupported ones."""
    optional = False
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        optional = len(members) != len(args)
        if len(members) != 1:
            raise SchemaDefinitionError(f"unsupported union {annotation!r}")
        annotation = members[0]
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
    if origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise SchemaDefinitionError(f"only tuple[X, ...] is supported, got {annotation!r}")
        item = leaf_type(args[0])
        return LeafType(item.kind, item.choices, sequence=True, optional=optional)
    if origin is Literal:
        return LeafType("choice", tuple(str(a) for a in args), optional=optional)
    simple: dict[Any, ScalarKind] = {
        bool: "bool",
        int: "int",
        float: "float",
        str: "str",
        SecretRef: "secret",
    }
    if annotation in simple:
        return LeafType(simple[annotation], optional=optional)
    raise SchemaDefinitionError(f"unsupported setting type {annotation!r}")


def _bounds(info: FieldInfo) -> Bounds:
    found: dict[str, Any] = {}
    for item in info.metadata:
        for name in ("ge", "le", "gt", "min_length", "max_length", "pattern"):
            value = getattr(item, name, None)
            if value is not None:
                found[name] = value
    return Bounds(**found)


def _walk(model: type[BaseModel], prefix: str, domain: str) -> list[SettingSpec]:
    specs: list[SettingSpec] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            specs.extend(_walk(annotation, path, domain))
            continue
        extra: Any = info.json_schema_extra
        meta: Any = extra.get("tierconf") if isinstance(extra, dict) else None
        if not isinstance(meta, SettingMeta):
            raise SchemaDefinitionError(f"{path} is not declared with setting()")
        specs.append(
            SettingSpec(
                path=path,
                domain=domain,
                meta=meta,
                type=leaf_type(annotation),
                default=info.get_default(call_default_factory=True),
                bounds=_bounds(info),
            )
        )
    return specs


@dataclass(frozen=True, slots=True)
class FlagFieldSpec:
    """One field of a flag definition (flags are a map of name -> definition).

    ``structured`` is set for fields holding a list of mappings (``variants``,
    ``constraints``): the loader reads them as plain data and validates each item with
    that pydantic model. Their ``type`` is then only a stand-in (a list of strings) for
    code that knows leaves alone.
    """

    name: str
    type: LeafType
    description: str
    bounds: Bounds
    structured: builtins.type[BaseModel] | None = None


def _flag_field(name: str, info: FieldInfo) -> FlagFieldSpec:
    structured = STRUCTURED_FLAG_FIELDS.get(name)
    return FlagFieldSpec(
        name=name,
        type=LeafType("str", sequence=True) if structured is not None else leaf_type(info.annotation),
        description=info.description or "",
        bounds=Bounds() if structured is not None else _bounds(info),
        structured=structured,
    )


@dataclass(frozen=True)
class Registry:
    """All settings, indexed by path and by KEY, plus the flag field table."""

    settings: tuple[SettingSpec, ...]
    by_path: Mapping[str, SettingSpec]
    by_key: Mapping[str, SettingSpec]
    groups: frozenset[str]
    flag_fields: Mapping[str, FlagFieldSpec]

    @cached_property
    def merge_paths(self) -> frozenset[str]:
        """Paths whose list values a higher layer unions with (``merge="merge"``) instead of replacing."""
        return frozenset(s.path for s in self.settings if s.meta.merge == "merge")

    def lookup(self, key_or_path: str) -> SettingSpec | None:
        """Find a setting by flat KEY (``DB_POOL_SIZE``) or dotted path."""
        return self.by_key.get(key_or_path) or self.by_path.get(key_or_path)

    def children(self, group_path: str) -> list[str]:
        """Names directly under a group path (``database`` -> postgres, redis...)."""
        prefix = group_path + "."
        names = {
            p[len(prefix) :].split(".", 1)[0] for p in (*self.by_path, *self.groups) if p.startswith(prefix)
        }
        return sorted(names)


@cache
def registry() -> Registry:
    """Build (once) and return the registry. Raises SchemaDefinitionError on a schema bug."""
    from tierconf.schema._root import DOMAIN_MODELS

    settings: list[SettingSpec] = []
    for domain, model in DOMAIN_MODELS.items():
        settings.extend(_walk(model, domain, domain))
    by_key: dict[str, SettingSpec] = {}
    for spec in settings:
        owner = by_key.get(spec.key)
        if owner is not None:
            raise SchemaDefinitionError(f"KEY {spec.key} is owned by both {owner.path} and {spec.path}")
        by_key[spec.key] = spec
    groups: set[str] = set()
    for spec in settings:
        parts = spec.path.split(".")
        for i in range(1, len(parts)):
            groups.add(".".join(parts[:i]))
    flag_fields = {name: _flag_field(name, info) for name, info in FlagDefinition.model_fields.items()}
    return Registry(
        settings=tuple(settings),
        by_path={s.path: s for s in settings},
        by_key=by_key,
        groups=frozenset(groups),
        flag_fields=flag_fields,
    )
