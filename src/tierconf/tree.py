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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tierconf.errors import Location, SchemaError, UsageError
from tierconf.sources._layer import LayerKind, LayerRead, read_layer
from tierconf.sources._yaml import YMap, YScalar, parse_yaml, read_text
from tierconf.tiers import EnvironmentTier

PROJECT_FILE = "tierconf.yaml"
TENANT_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")


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
        if not isinstance(value, YScalar):
            raise SchemaError(f"{key.text} must be a single value", location=Location(display, key.line))
        data[key.text] = value.text
    try:
        return ProjectSpec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        raise SchemaError(
            f"tierconf.yaml: {name}: {error['msg']}",
            location=Location(display, lines.get(name, node.line)),
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

