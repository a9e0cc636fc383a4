"""The same configuration for every contender: our three layers and the peers' equivalents.

From the bundled tree we take one tier and one tenant and write, into a temporary directory,
(a) a three-layer tree in our format (``base/base.yaml``, ``environments/<tier>.yaml``,
``tenants/<tenant>.yaml``) and (b) the same three layers for the peers: identical values,
except that secret references become plain strings (``ref:env:NAME``: OmegaConf would read
``${...}`` as an interpolation), the tier file also sets ``application.environment`` (we
derive it), and the tenant's ``plan:`` (not a setting) is left out.

Every peer validates types against the same schema: pydantic-settings uses our own domain
models (same types and bounds), Dynaconf gets one ``Validator`` per setting (type, bounds,
length, pattern, choices), OmegaConf a structured config generated from the registry (types,
Enums for choices; OmegaConf has no bounds).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import importlib.util
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from tierconf.pipeline import ConfigRequest, resolve_config
from tierconf.schema._registry import LeafType, SettingSpec, registry
from tierconf.schema._secret_ref import SecretRef
from tierconf.sources._layer import Layer
from tierconf.tiers import EnvironmentTier
from tierconf.tree import LayerReader, bundled_config_dir, load_tree

try:
    from yaml import CSafeLoader as FastLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as FastLoader  # type: ignore[assignment]

PEERS = ("dynaconf", "pydantic-settings", "omegaconf")
_MODULES = {"dynaconf": "dynaconf", "pydantic-settings": "pydantic_settings", "omegaconf": "omegaconf"}
TIER = EnvironmentTier.PRODUCTION
TENANT = "acme"


def available(peer: str) -> bool:
    """Whether a peer library is importable here."""
    return importlib.util.find_spec(_MODULES[peer]) is not None


@dataclass(frozen=True)
class Workspace:
    """Files written for one benchmark run."""

    root: Path
    ours: Path  # our three-layer tree
    base: Path  # peers' layers
    tier: Path
    tenant: Path
    tenants: tuple[Path, ...]  # extra tenant files for the peers (scaling curves)
    settings: int


def _plain(value: Any, *, ours: bool) -> Any:
    if isinstance(value, SecretRef):
        if not value.is_reference:
            return value.target
        return value.describe() if ours else f"ref:{value.kind}:{value.target}"
    if isinstance(value, tuple):
        return [_plain(v, ours=ours) for v in value]
    return value


def layer_dict(layer: Layer, *, ours: bool) -> dict[str, Any]:
    """A layer's entries as the nested plain dict a YAML file would hold."""
    root: dict[str, Any] = {}
    for path, entry in layer.entries.items():
        parts = path.split(".")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts[0] == "flags" and len(parts) == 2:
            node.setdefault(parts[1], {})
        else:
            node[parts[-1]] = _plain(entry.value, ours=ours)
    return root


def deep_merge(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``high`` over ``low``, mappings merged key by key (inputs untouched)."""
    out = dict(low)
    for key, value in high.items():
        below = out.get(key)
        out[key] = deep_merge(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return out


def _dump(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def prepare(root: Path, tenants: int = 0) -> Workspace:
    """Write our three-layer tree and the peers' files under ``root``.

    ``tenants`` extra copies of the tenant (``t0000``...) are written for both sides, for
    the scaling curves.
    """
    tree = load_tree()
    reader = LayerReader(tree)
    base: dict[str, Any] = {}
    base_ours: dict[str, Any] = {}
    for path in tree.base_files():
        read = reader.read(path, "base")
        base = deep_merge(base, layer_dict(read.layer, ours=False))
        base_ours = deep_merge(base_ours, layer_dict(read.layer, ours=True))
    tier_file = tree.tier_file(TIER)
    assert tier_file is not None
    tier_layer = reader.read(tier_file, "environment").layer
    tenant_read = reader.read(tree.tenant_file(TENANT), "tenant").layer
    ours = root / "ours"
    shutil.copy(bundled_config_dir() / "tierconf.yaml", _mkdir(ours) / "tierconf.yaml")
    _dump(ours / "base" / "base.yaml", base_ours)
    _dump(ours / "environments" / f"{TIER.value}.yaml", layer_dict(tier_layer, ours=True))
    tenant_ours = {"plan": tenant_read.plan, **layer_dict(tenant_read, ours=True)}
    _dump(ours / "tenants" / f"{TENANT}.yaml", tenant_ours)
    peers = root / "peers"
    tier_data = deep_merge(layer_dict(tier_layer, ours=False), {"application": {"environment": TIER.value}})
    tenant_data = layer_dict(tenant_read, ours=False)
    extra: list[Path] = []
    for index in range(tenants):
        _dump(ours / "tenants" / f"t{index:04d}.yaml", tenant_ours)
        extra.append(_dump(peers / "tenants" / f"t{index:04d}.yaml", tenant_data))
    resolved = resolve_config(tree, ConfigRequest(TIER, TENANT), reader)
    return Workspace(
        root=root,
        ours=ours,
        base=_dump(peers / "base.yaml", base),
        tier=_dump(peers / f"{TIER.value}.yaml", tier_data),
        tenant=_dump(peers / "tenants" / f"{TENANT}.yaml", tenant_data),
        tenants=tuple(extra),
        settings=len(resolved.values),
    )


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- floor: PyYAML's C parser and a dict merge, no types, no provenance -------------------


def floor_load(files: tuple[Path, ...]) -> dict[str, Any]:
    """Parse each file with libyaml (CSafeLoader) and deep-merge them."""
    merged: dict[str, Any] = {}
    for path in files:
        with open(path, "rb") as handle:
            merged = deep_merge(merged, yaml.load(handle, Loader=FastLoader) or {})
    return merged


# --- pydantic-settings ---------------------------------------------------------------------


def pydantic_settings_class(files: tuple[Path, ...], preparsed: Mapping[str, Any] | None = None) -> type[Any]:
    """A ``BaseSettings`` over our domain models, reading ``files`` with YamlConfigSettingsSource.

    With ``preparsed`` (the base and tier layers already parsed and merged), only ``files``
    (the tenant) is read per instance: the fairest "warm" pydantic-settings can do.
    """
    from pydantic import Field
    from pydantic_settings import (
        BaseSettings,
        PydanticBaseSettingsSource,
        SettingsConfigDict,
        YamlConfigSettingsSource,
    )

    from tierconf.schema._application import ApplicationConfig
    from tierconf.schema._database import DatabaseConfig
    from tierconf.schema._flags import FlagDefinition
    from tierconf.schema._ml import MlConfig
    from tierconf.schema._monitoring import MonitoringConfig
    from tierconf.schema._security import SecurityConfig

    class Preparsed(PydanticBaseSettingsSource):
        def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
            return None, field_name, False

        def __call__(self) -> dict[str, Any]:
            return copy.copy(dict(preparsed or {}))

    class PeerSettings(BaseSettings):
        model_config = SettingsConfigDict(
            extra="forbid",
            frozen=True,
            env_prefix="TIERCONF_BENCH_",
            yaml_file=[str(f) for f in files],
            yaml_file_encoding="utf-8",
        )

        application: ApplicationConfig = Field(default_factory=ApplicationConfig)
        database: DatabaseConfig = Field(default_factory=DatabaseConfig)
        security: SecurityConfig = Field(default_factory=SecurityConfig)
        ml: MlConfig = Field(default_factory=MlConfig)
        monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
        flags: dict[str, FlagDefinition] = Field(default_factory=dict)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            yaml_source = YamlConfigSettingsSource(settings_cls, deep_merge=True)
            if preparsed is None:
                return (init_settings, env_settings, yaml_source)
            return (init_settings, env_settings, yaml_source, Preparsed(settings_cls))

    return PeerSettings


# --- Dynaconf ------------------------------------------------------------------------------

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "choice": (str,),
    "secret": (str,),
}


def _dynaconf_validator(path: str, leaf: LeafType, spec: SettingSpec | None) -> Any:
    from dynaconf import Validator

    types = (list,) if leaf.sequence else _PY_TYPES[leaf.kind]
    if leaf.optional:
        types = (*types, type(None))
    checks: dict[str, Any] = {"is_type_of": types}
    if leaf.kind == "choice" and not leaf.sequence:
        checks["is_in"] = [*leaf.choices, *([None] if leaf.optional else [])]
    if spec is not None:
        checks["default"] = _plain(spec.default, ours=False)  # the schema's default, as pydantic has
        bounds = spec.bounds
        if bounds.ge is not None:
            checks["gte"] = bounds.ge
        if bounds.le is not None:
            checks["lte"] = bounds.le
        if bounds.gt is not None:
            checks["gt"] = bounds.gt
        if bounds.min_length is not None:
            checks["len_min"] = bounds.min_length
        if bounds.max_length is not None:
            checks["len_max"] = bounds.max_length
        if bounds.pattern is not None:
            pattern = re.compile(bounds.pattern)
            checks["condition"] = lambda v, p=pattern: v is None or bool(p.search(str(v)))
    return Validator(path, **checks)


def dynaconf_validators(flag_names: tuple[str, ...]) -> list[Any]:
    """One Validator per setting (and per field of each known flag)."""
    reg = registry()
    validators = [_dynaconf_validator(spec.path, spec.type, spec) for spec in reg.settings]
    for name in flag_names:
        for field_name, field in reg.flag_fields.items():
            if field.type.kind in _PY_TYPES:
                validators.append(_dynaconf_validator(f"flags.{name}.{field_name}", field.type, None))
    return validators


def dynaconf_loader(files: tuple[Path, ...], validators: list[Any]) -> Callable[[], Any]:
    """A callable that builds a Dynaconf over ``files`` and forces its load + validation."""
    from dynaconf import Dynaconf

    paths = [str(f) for f in files]

    def load() -> Any:
        settings = Dynaconf(
            settings_files=paths,
            merge_enabled=True,
            environments=False,
            load_dotenv=False,
            envvar_prefix="TIERCONF_BENCH",
            validators=validators,
        )
        settings.get("database")  # Dynaconf is lazy: this loads the files and runs validators
        return settings

    return load


# --- OmegaConf -----------------------------------------------------------------------------


def _omega_type(leaf: LeafType, name: str) -> Any:
    kinds: dict[str, Any] = {"bool": bool, "int": int, "float": float, "str": str, "secret": str}
    if leaf.kind == "choice":
        item: Any = enum.Enum(f"Choice_{name}", {c: c for c in leaf.choices})
    else:
        item = kinds[leaf.kind]
    if leaf.sequence:
        item = list[item]  # type: ignore[valid-type]
    return Optional[item] if leaf.optional else item  # noqa: UP045 - OmegaConf needs typing.Optional


def _omega_default(spec: SettingSpec) -> Any:
    value = _plain(spec.default, ours=False)
    if isinstance(value, list):
        return dataclasses.field(default_factory=lambda v=value: list(v))
    if spec.type.kind == "choice" and value is not None and not spec.type.sequence:
        return value
    return value


def omegaconf_schema() -> type[Any]:
    """A structured-config dataclass tree generated from the registry."""
    reg = registry()
    tree: dict[str, Any] = {}
    for spec in reg.settings:
        parts = spec.path.split(".")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = spec

    def build(name: str, node: Mapping[str, Any]) -> type[Any]:
        fields: list[tuple[str, Any, Any]] = []
        for key, child in node.items():
            if isinstance(child, SettingSpec):
                default = _omega_default(child)
                typ = _omega_type(child.type, child.path.replace(".", "_"))
                if isinstance(default, dataclasses.Field):
                    fields.append((key, typ, default))
                elif child.type.kind == "choice" and default is not None and not child.type.sequence:
                    base = typ.__args__[0] if child.type.optional else typ
                    fields.append((key, typ, dataclasses.field(default=base[default])))
                else:
                    fields.append((key, typ, dataclasses.field(default=default)))
            else:
                sub = build(f"{name}_{key}", child)
                fields.append((key, sub, dataclasses.field(default_factory=sub)))
        return dataclasses.make_dataclass(name, fields)

    root = build("Root", tree)
    fields = [(f.name, f.type, dataclasses.field(default_factory=f.type)) for f in dataclasses.fields(root)]
    fields.append(("flags", dict[str, Any], dataclasses.field(default_factory=dict)))
    return dataclasses.make_dataclass("PeerConfig", fields)


def omegaconf_loader(
    files: tuple[Path, ...], schema: type[Any], preloaded: tuple[Any, ...] = ()
) -> Callable[[], Any]:
    """``OmegaConf.merge(structured schema, *layers)`` then ``to_object`` (typed instances).

    ``preloaded`` DictConfigs (base and tier parsed once) go before ``files``.
    """
    from omegaconf import OmegaConf

    structured = OmegaConf.structured(schema)

    def load() -> Any:
        layers = [*preloaded, *(OmegaConf.load(f) for f in files)]
        merged = OmegaConf.merge(structured, *layers)
        return OmegaConf.to_object(merged)

    return load


def omegaconf_config(files: tuple[Path, ...], schema: type[Any]) -> Any:
    """The merged DictConfig itself (what OmegaConf users read settings from)."""
    from omegaconf import OmegaConf

    return OmegaConf.merge(OmegaConf.structured(schema), *(OmegaConf.load(f) for f in files))


def clean_env() -> None:
    """Drop variables that would feed the peers' environment sources."""
    for key in list(os.environ):
        if key.startswith("TIERCONF_BENCH"):
            del os.environ[key]
