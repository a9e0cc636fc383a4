"""The pipeline's first stages in one place: layers -> merge -> schema.

``resolve_config`` is what every command starts with. Later stages (validation rules,
secret resolution, rendering, release, delivery) take its :class:`ResolvedConfig`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tierconf.errors import ConfigError, InvalidConfigurationError, SchemaError, UsageError
from tierconf.findings import Finding
from tierconf.layering import merge_layers, nest
from tierconf.provenance import LayeredValue
from tierconf.schema._registry import Registry, SettingSpec, registry
from tierconf.schema._root import TierConfig
from tierconf.schema._secret_ref import SecretRef
from tierconf.sources._convert import ConversionError, convert_set_value
from tierconf.sources._layer import Entry, Layer
from tierconf.tiers import EnvironmentTier
from tierconf.tree import ConfigTree, LayerReader


@dataclass(frozen=True)
class ConfigRequest:
    """Which configuration to build: a tier, optionally a tenant, and command-line overlays."""

    tier: EnvironmentTier
    tenant: str | None = None
    values_files: tuple[Path, ...] = ()
    sets: tuple[str, ...] = ()
    extra_layers: tuple[Layer, ...] = ()
    """Layers built in memory (the seed API's dicts), applied after --values, before --set."""


@dataclass(frozen=True)
class ResolvedConfig:
    """A merged, schema-valid configuration with per-setting provenance."""

    tree: ConfigTree
    request: ConfigRequest
    config: TierConfig
    values: Mapping[str, LayeredValue]
    plan: str | None
    layer_names: tuple[str, ...]
    warnings: tuple[Finding, ...] = field(default=())

    @property
    def tier(self) -> EnvironmentTier:
        """The tier this configuration is for."""
        return self.request.tier

    @property
    def tenant(self) -> str | None:
        """The tenant, or None for the tier-wide configuration."""
        return self.request.tenant


def parse_set(assignment: str, reg: Registry) -> tuple[str, Any]:
    """Parse one ``--set KEY=VALUE`` (flat KEY or dotted path) into (path, typed value).

    Raises:
        UsageError: malformed assignment, unknown setting, or a value of the wrong type.
    """
    name, sep, text = assignment.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"--set expects KEY=VALUE or path=VALUE, got {assignment!r}")
    parts = name.split(".")
    if parts[0] == "flags" and len(parts) == 3:
        spec_type = reg.flag_fields.get(parts[2])
        if spec_type is None:
            raise UsageError(
                f"--set {name}: unknown flag field {parts[2]!r}; "
                f"expected one of: {', '.join(reg.flag_fields)}"
            )
        if spec_type.structured is not None:
            return name, _structured_set_value(name, text, spec_type.structured)
        try:
            return name, convert_set_value(text, spec_type.type)
        except ConversionError as exc:
            raise UsageError(f"--set {name}: {exc}") from exc
    spec = reg.lookup(name)
    if spec is None:
        candidates = [*reg.by_key, *reg.by_path]
        close = difflib.get_close_matches(name, candidates, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UsageError(f"--set: unknown setting {name!r}{hint}")
    if spec.meta.derived:
        raise UsageError(f"--set: {spec.path} ({spec.key}) is derived from the tier; it cannot be set")
    try:
        return spec.path, convert_set_value(text, spec.type)
    except ConversionError as exc:
        raise UsageError(f"--set {name}: {exc}") from exc


def _structured_set_value(name: str, text: str, model: type[BaseModel]) -> tuple[BaseModel, ...]:
    """``--set flags.x.variants=[{"name": ..., ...}]``: a JSON list, each item checked by ``model``."""
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise UsageError(f"--set {name}: expected a JSON list of mappings ({exc.msg})") from exc
    if not isinstance(data, list):
        raise UsageError(f"--set {name}: expected a JSON list of mappings, found {type(data).__name__}")
    items: list[BaseModel] = []
    for index, item in enumerate(data):
        try:
            items.append(model.model_validate(item))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            raise UsageError(f"--set {name}[{index}]{where}: {message}") from exc
    return tuple(items)


def _set_layer(sets: Sequence[str], reg: Registry) -> Layer:
    entries: dict[str, Entry] = {}
    for assignment in sets:
        path, value = parse_set(assignment, reg)
        entries[path] = Entry(value, None)
    return Layer("set", "--set", None, entries)


def _derived_layer(tier: EnvironmentTier) -> Layer:
    return Layer(
        "derived", "derived from the tier", None, {"application.environment": Entry(tier.value, None)}
    )


_SECRET_SPECS: dict[int, tuple[Registry, tuple[SettingSpec, ...]]] = {}


def _secret_specs(reg: Registry) -> tuple[SettingSpec, ...]:
    """The secret settings (a handful out of hundreds), computed once per registry."""
    cached = _SECRET_SPECS.get(id(reg))
    if cached is None or cached[0] is not reg:
        cached = (reg, tuple(spec for spec in reg.settings if spec.secret))
        _SECRET_SPECS[id(reg)] = cached
    return cached[1]


def _secret_literals(
    values: Mapping[str, LayeredValue], tier: EnvironmentTier, reg: Registry
) -> tuple[list[ConfigError], list[Finding]]:
    problems: list[ConfigError] = []
    warnings: list[Finding] = []
    for spec in _secret_specs(reg):
        path = spec.path
        layered = values.get(path)
        value = layered.value if layered is not None else None
        if layered is None or not isinstance(value, SecretRef):
            continue
        if value.is_reference:
            continue
        origin = layered.origin
        message = (
            f"{path} ({spec.key}) holds a plaintext secret in {origin.layer}; "
            f"reference it instead: ${{env:NAME}}, ${{file:PATH}}, TIERCONF_SECRET_{spec.key} "
            "or --secrets-dir"
        )
        if tier is EnvironmentTier.LOCAL:
            warnings.append(
                Finding("warning", "SECRET-PLAINTEXT", path, spec.key, message, origin.file, origin.line)
            )
        else:
            problems.append(SchemaError(message, location=origin.location, path=path))
    return problems, warnings


def _schema_problems(
    exc: ValidationError, values: Mapping[str, LayeredValue], reg: Registry
) -> list[ConfigError]:
    problems: list[ConfigError] = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"])
        layered = values.get(path)
        spec = reg.by_path.get(path)
        label = f"{path} ({spec.key})" if spec is not None else path
        shown = ""
        is_flag_marker = path.startswith("flags.") and path.count(".") == 1
        if layered is not None and not is_flag_marker and not (spec is not None and spec.secret):
            from tierconf.rules import redact

            text = repr(layered.value)
            if len(text) > 120:
                text = f"{text[:100]}... ({len(text)} characters)"
            shown = f" = {redact(text)}"
        via = ""
        if layered is not None and layered.origin.location is None:
            via = f" (from {layered.origin.layer})"
        problems.append(
            SchemaError(
                f"{label}{shown}{via}: {error['msg']}",
                location=layered.origin.location if layered is not None else None,
                path=path,
            )
        )
    return problems


def resolve_config(
    tree: ConfigTree, request: ConfigRequest, reader: LayerReader | None = None
) -> ResolvedConfig:
    """Read, merge and type-check the layers for ``request``.

    Raises:
        InvalidConfigurationError: every problem found, each with its file:line.
        UsageError: unknown tenant, missing --values file, malformed --set.
    """
    reg = registry()
    reader = reader or LayerReader(tree)
    reads = [reader.read(path, "base") for path in tree.base_files()]
    tier_file = tree.tier_file(request.tier)
    if tier_file is not None:
        reads.append(reader.read(tier_file, "environment"))
    if request.tenant is not None:
        reads.append(reader.read(tree.tenant_file(request.tenant), "tenant"))
    reads.extend(reader.read_external(path, "values") for path in request.values_files)

    problems: list[ConfigError] = [p for read in reads for p in read.problems]
    layers = [read.layer for read in reads]
    layers.extend(request.extra_layers)
    layers.append(_set_layer(request.sets, reg))
    layers.append(_derived_layer(request.tier))
    plan = next((layer.plan for layer in layers if layer.kind == "tenant"), None)

    values = merge_layers(layers, reg)
    literal_problems, warnings = _secret_literals(values, request.tier, reg)
    problems.extend(literal_problems)
    config: TierConfig | None = None
    try:
        config = TierConfig.model_validate(nest(values))
    except ValidationError as exc:
        problems.extend(_schema_problems(exc, values, reg))
    if problems or config is None:
        raise InvalidConfigurationError(tuple(problems))
    return ResolvedConfig(
        tree=tree,
        request=request,
        config=config,
        values=values,
        plan=plan,
        layer_names=tuple(layer.name for layer in layers if layer.entries and layer.file),
        warnings=tuple(warnings),
    )
