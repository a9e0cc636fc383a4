"""The config tree on disk: ``tierconf.yaml``, ``base/``, ``environments/``, ``tenants/``.

``ConfigTree`` only knows where files are and what the project file says; reading layers
is done through a :class:`LayerReader`, which parses each file once per process so that
rendering thousands of tenants parses the shared layers a single time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tierconf.errors import Location, SchemaError, UsageError
from tierconf.sources._layer import LayerKind, LayerRead, read_layer
from tierconf.sources._yaml import YMap, YNode, YScalar, YSeq, parse_yaml, read_text
from tierconf.tiers import EnvironmentTier

PROJECT_FILE = "tierconf.yaml"
TENANT_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")
WORKLOAD_REF = re.compile(r"^(Deployment|StatefulSet)/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
SILENCE_FIELDS = ("code", "tier", "tenant", "reason")


class Silence(BaseModel):
    """One reviewed exception to a validation rule, declared in ``tierconf.yaml``.

    A silenced finding is still reported, as ``info`` with the reason appended. ``tier``
    and ``tenant`` narrow the silence; left out, it applies to every tier or tenant.
    ``line`` is where the entry starts in ``tierconf.yaml`` (set by the reader).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
    tier: str | None = None
    tenant: str | None = Field(default=None, pattern=TENANT_ID.pattern)
    reason: str = Field(min_length=10, description="Why the finding is accepted (reviewed).")
    line: int | None = Field(default=None, exclude=True)

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return EnvironmentTier.parse(value).value
        except UsageError as exc:
            raise ValueError(exc.message) from exc

    def matches(self, code: str, tier: EnvironmentTier, tenant: str | None) -> bool:
        """Whether this entry silences ``code`` for ``tier`` and ``tenant``."""
        return (
            self.code == code
            and (self.tier is None or self.tier == tier.value)
            and (self.tenant is None or self.tenant == tenant)
        )


class ProjectSpec(BaseModel):
    """What ``tierconf.yaml`` declares about the project."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app: str = Field(default="spotify-ai-agent", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    namespace: str = Field(
        default="{app}-{tier_short}",
        description="Namespace pattern; placeholders {app}, {tier}, {tier_short}, {tenant}.",
    )
    part_of: str = Field(default="", description="app.kubernetes.io/part-of label value.")
    description: str = ""
    silence: tuple[Silence, ...] = Field(
        default=(), description="Reviewed exceptions to validation rules (code, tier, tenant, reason)."
    )
    workloads: tuple[Annotated[str, Field(pattern=WORKLOAD_REF.pattern)], ...] = Field(
        default=(),
        description="Deployments/StatefulSets consuming the config (``Kind/name``), rolled on change.",
    )

    def namespace_for(self, tier: EnvironmentTier, tenant: str | None = None) -> str:
        """The namespace objects of this tier (and tenant) go to."""
        return self.namespace.format(
            app=self.app, tier=tier.value, tier_short=tier.short, tenant=tenant or ""
        ).strip("-")


def bundled_config_dir() -> Path:
    """The Spotify AI Agent tree shipped inside the package (the default ``--config-dir``)."""
    return Path(str(resources.files("tierconf") / "bundled"))


@dataclass(frozen=True)
class ConfigTree:
    """Locations of a config tree's layer files and its project settings."""

    root: Path
    display_root: str
    project: ProjectSpec

    def display(self, path: Path) -> str:
        """How a file of this tree is named in messages: the root as given + relative path."""
        rel = path.relative_to(self.root).as_posix()
        return f"{self.display_root.rstrip('/')}/{rel}"

    def relative(self, path: Path) -> str:
        """Path relative to the tree root (stable across machines, used in annotations)."""
        return path.relative_to(self.root).as_posix()

    def base_files(self) -> tuple[Path, ...]:
        """``base/*.yaml`` sorted by name."""
        base = self.root / "base"
        return tuple(sorted([*base.glob("*.yaml"), *base.glob("*.yml")])) if base.is_dir() else ()

    def tier_file(self, tier: EnvironmentTier) -> Path | None:
        """``environments/<tier>.yaml`` if it exists."""
        for suffix in (".yaml", ".yml"):
            path = self.root / "environments" / f"{tier.value}{suffix}"
            if path.exists() or path.is_symlink():
                return path
        return None

    def tenants(self) -> tuple[str, ...]:
        """Tenant ids with a file under ``tenants/``, sorted."""
        folder = self.root / "tenants"
        if not folder.is_dir():
            return ()
        return tuple(sorted(p.stem for p in folder.iterdir() if p.suffix in (".yaml", ".yml")))

    def tenant_file(self, tenant: str) -> Path:
        """``tenants/<id>.yaml``; UsageError naming the known tenants if absent."""
        if not TENANT_ID.match(tenant):
            raise UsageError(
                f"invalid tenant id {tenant!r}: lowercase letters, digits and '-' (DNS label)"
            )
        for suffix in (".yaml", ".yml"):
            path = self.root / "tenants" / f"{tenant}{suffix}"
            if path.exists() or path.is_symlink():
                return path
        known = ", ".join(self.tenants()) or "none"
        raise UsageError(f"unknown tenant {tenant!r} in {self.display_root}; known tenants: {known}")


def _silence_entries(node: YNode, display: str) -> list[dict[str, object]]:
    """Read ``silence:`` (a list of mappings of scalars) keeping each entry's line."""
    if isinstance(node, YScalar) and node.is_null:
        return []
    if not isinstance(node, YSeq):
        raise SchemaError(
            "silence must be a list of {code, tier, tenant, reason} entries",
            location=Location(display, node.line),
            path="silence",
        )
    entries: list[dict[str, object]] = []
    for index, item in enumerate(node.items):
        where = f"silence[{index}]"
        if not isinstance(item, YMap):
            raise SchemaError(
                f"{where} must be a mapping with code, reason and optionally tier, tenant",
                location=Location(display, item.line),
                path=where,
            )
        entry: dict[str, object] = {"line": item.line}
        for key, value in item.pairs:
            if key.text not in SILENCE_FIELDS:
                raise SchemaError(
                    f"{where}: unknown field {key.text!r} (expected one of: "
                    f"{', '.join(SILENCE_FIELDS)})",
                    location=Location(display, key.line),
                    path=f"{where}.{key.text}",
                )
            if not isinstance(value, YScalar):
                raise SchemaError(
                    f"{where}.{key.text} must be a single value",
                    location=Location(display, value.line),
                    path=f"{where}.{key.text}",
                )
            entry[key.text] = None if value.is_null else value.text
        entries.append(entry)
    return entries


def _scalar_list(node: YNode, display: str, name: str) -> list[str]:
    """Read a list of scalars (``workloads: [Deployment/api, ...]``)."""
    if isinstance(node, YScalar) and node.is_null:
        return []
    if not isinstance(node, YSeq) or not all(isinstance(i, YScalar) for i in node.items):
        raise SchemaError(
            f"{name} must be a list of single values", location=Location(display, node.line), path=name
        )
    return [item.text for item in node.items if isinstance(item, YScalar)]


def _read_project(path: Path, display: str) -> ProjectSpec:
    if not path.exists():
        return ProjectSpec()
    node = parse_yaml(read_text(path, display), display)
    if node is None:
        return ProjectSpec()
    if not isinstance(node, YMap):
        raise SchemaError("tierconf.yaml must be a mapping", location=Location(display, node.line))
    lines = {key.text: key.line for key, _ in node.pairs}
    data: dict[str, object] = {}
    for key, value in node.pairs:
        if key.text == "silence":
            silences = _silence_entries(value, display)
            data["silence"] = silences
            for index, entry in enumerate(silences):
                lines[f"silence.{index}"] = int(str(entry["line"]))
            continue
        if key.text == "workloads":
            data["workloads"] = _scalar_list(value, display, "workloads")
            continue
        if not isinstance(value, YScalar):
            raise SchemaError(
                f"{key.text} must be a single value", location=Location(display, key.line)
            )
        data[key.text] = value.text
    try:
        return ProjectSpec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        name = ".".join(loc)
        line = lines.get(".".join(loc[:2])) or lines.get(loc[0] if loc else "", node.line)
        raise SchemaError(
            f"tierconf.yaml: {name}: {error['msg']}",
            location=Location(display, line),
            path=name,
        ) from exc


def load_tree(config_dir: str | Path | None = None) -> ConfigTree:
    """Locate a config tree (default: the bundled one) and read ``tierconf.yaml``.

    Raises:
        UsageError: the directory does not exist.
        ConfigError: ``tierconf.yaml`` is invalid.
    """
    if config_dir is None:
        root = bundled_config_dir()
        display = str(root)
    else:
        display = str(config_dir)
        root = Path(config_dir)
    if not root.is_dir():
        raise UsageError(f"config directory {display!r} does not exist (see `tierconf init DIR`)")
    root = root.resolve()
    project_path = root / PROJECT_FILE
    project = _read_project(project_path, f"{display.rstrip('/')}/{PROJECT_FILE}")
    return ConfigTree(root=root, display_root=display, project=project)


@dataclass
class LayerReader:
    """Reads layer files of one tree, each at most once per reader (a per-process cache)."""

    tree: ConfigTree
    _cache: dict[tuple[Path, LayerKind], LayerRead] = field(default_factory=dict)

    def read(self, path: Path, kind: LayerKind) -> LayerRead:
        """Read (or return the cached read of) a layer file of the tree."""
        cache_key = (path, kind)
        cached = self._cache.get(cache_key)
        if cached is None:
            cached = read_layer(path, self.tree.display(path), kind, self.tree.relative(path))
            self._cache[cache_key] = cached
        return cached

    def read_external(self, path: Path, kind: LayerKind) -> LayerRead:
        """Read a file outside the tree (``--values FILE``); never cached."""
        if not path.exists():
            raise UsageError(f"--values file {str(path)!r} does not exist")
        return read_layer(path, str(path), kind)

