"""The seed document's API, as a thin facade over the pipeline.

``ConfigMapManager``, ``ConfigurationValidator`` and ``ConfigMapUtils`` behave as the user's
document (``module-configurations.fr.md``) shows them; every call goes through the same
loading, validation and rendering as the CLI.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tierconf.errors import UsageError
from tierconf.findings import Finding
from tierconf.pipeline import ConfigRequest, ResolvedConfig, resolve_config
from tierconf.render import RenderOptions, render, to_yaml
from tierconf.render._files import write_file_atomic
from tierconf.render._manifests import CONFIGMAP_SUFFIX, RenderedSet
from tierconf.render._values import parse_rendered, render_scalar
from tierconf.schema._registry import SettingSpec, registry
from tierconf.secrets import SecretOptions, placeholder_secrets, resolve_secrets
from tierconf.sources._convert import ConversionError
from tierconf.sources._layer import Entry, Layer
from tierconf.tiers import EnvironmentTier
from tierconf.tree import ConfigTree, LayerReader, load_tree
from tierconf.validation import validate

Manifest = dict[str, Any]


class ConfigMapManager:
    """Builds the platform's ConfigMaps and Secrets for one tier (and optionally a tenant).

    Args:
        namespace: Target namespace (default: the project's pattern, ``spotify-ai-agent-dev``).
        environment: The tier, as an :class:`EnvironmentTier` or any accepted spelling.
        config_dir: Config tree (default: the bundled Spotify AI Agent tree).
        tenant: Render a tenant's configuration instead of the tier-wide one.
        secrets_dir: Directory with one file per secret KEY.
        immutable: Immutable objects with a kustomize hash suffix.
    """

    def __init__(
        self,
        namespace: str | None = None,
        environment: EnvironmentTier | str = EnvironmentTier.DEVELOPMENT,
        *,
        config_dir: str | Path | None = None,
        tenant: str | None = None,
        secrets_dir: str | Path | None = None,
        immutable: bool = False,
    ) -> None:
        self.environment = EnvironmentTier.parse(environment)
        self.tree: ConfigTree = load_tree(config_dir)
        self.tenant = tenant
        self.namespace = namespace or self.tree.project.namespace_for(self.environment, tenant)
        self._secrets_dir = Path(secrets_dir) if secrets_dir is not None else None
        self._options = RenderOptions(namespace=self.namespace, immutable=immutable)
        self._resolved: ResolvedConfig | None = None
        self._masked: RenderedSet | None = None

    @property
    def resolved(self) -> ResolvedConfig:
        """The merged, validated configuration (computed once)."""
        if self._resolved is None:
            self._resolved = resolve_config(self.tree, ConfigRequest(self.environment, self.tenant))
        return self._resolved

    def _masked_render(self) -> RenderedSet:
        """Everything rendered with masked secret stand-ins, computed once per manager."""
        if self._masked is None:
            self._masked = render(self.resolved, placeholder_secrets(), self._options)
        return self._masked

    def _configmap(self, domain: str) -> Manifest:
        for obj in self._masked_render().objects:
            if obj.kind == "ConfigMap" and obj.domain == domain:
                return obj.masked()
        raise UsageError(f"no ConfigMap for domain {domain!r}")  # pragma: no cover - all domains render

    def create_application_config(self) -> Manifest:
        """The ``spotify-ai-agent-config`` ConfigMap manifest."""
        return self._configmap("application")

    def create_database_config(self) -> Manifest:
        """The ``spotify-ai-agent-database-config`` ConfigMap manifest."""
        return self._configmap("database")

    def create_security_config(self) -> Manifest:
        """The ``spotify-ai-agent-security-config`` ConfigMap manifest (no secrets in it)."""
        return self._configmap("security")

    def create_ml_config(self) -> Manifest:
        """The ``spotify-ai-agent-ml-config`` ConfigMap manifest."""
        return self._configmap("ml")

    def create_monitoring_config(self) -> Manifest:
        """The ``spotify-ai-agent-monitoring-config`` ConfigMap manifest."""
        return self._configmap("monitoring")

    def create_feature_flags_config(self) -> Manifest:
        """The ``spotify-ai-agent-feature-flags`` ConfigMap manifest."""
        return self._configmap("flags")

    def generate_all_configs(self) -> list[Manifest]:
        """Every ConfigMap and Secret; Secrets carry their resolved values (base64)."""
        secrets = resolve_secrets(self.resolved, SecretOptions(secrets_dir=self._secrets_dir))
        return [dict(obj.manifest) for obj in render(self.resolved, secrets, self._options).objects]

    def export_to_yaml(self, configs: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
        """Write ``configs`` as multi-document YAML, atomically; 0600 if a Secret is included."""
        target = Path(path)
        has_secret = any(c.get("kind") == "Secret" for c in configs)
        write_file_atomic(target, to_yaml(configs).encode(), mode=0o600 if has_secret else 0o644)
        return target


_DOMAIN_OF_VALIDATOR = ("application", "database", "security", "ml", "monitoring")


class ConfigurationValidator:
    """Validates a ConfigMap (manifest or its ``data`` dict) of one domain.

    The values are layered over the tier's configuration (the bundled tree unless
    ``config_dir`` is given) and checked with the same schema and rules as
    ``tierconf validate``; only findings about the given domain are returned.
    """

    def __init__(
        self, environment: EnvironmentTier | str | None = None, *, config_dir: str | Path | None = None
    ) -> None:
        self.environment = EnvironmentTier.parse(environment) if environment is not None else None
        self._config_dir = config_dir
        self._tree: ConfigTree | None = None

    def _tree_once(self) -> ConfigTree:
        if self._tree is None:
            self._tree = load_tree(self._config_dir)
        return self._tree

    def validate_application_config(self, config: Mapping[str, Any]) -> tuple[bool, list[str]]:
        """Validate application settings (DEBUG, LOG_LEVEL, MAX_WORKERS, ...)."""
        return self.validate_domain("application", config)

    def validate_database_config(self, config: Mapping[str, Any]) -> tuple[bool, list[str]]:
        """Validate database settings (DB_HOST, DB_POOL_SIZE, REDIS_MAX_CONNECTIONS, ...)."""
        return self.validate_domain("database", config)

    def validate_security_config(self, config: Mapping[str, Any]) -> tuple[bool, list[str]]:
        """Validate security settings (JWT_*, RATE_LIMIT_*, CSRF_PROTECTION, ...)."""
        return self.validate_domain("security", config)

    def validate_ml_config(self, config: Mapping[str, Any]) -> tuple[bool, list[str]]:
        """Validate ML settings (ML_MODEL_VERSION, SPLEETER_MODEL, ...)."""
        return self.validate_domain("ml", config)

    def validate_monitoring_config(self, config: Mapping[str, Any]) -> tuple[bool, list[str]]:
        """Validate monitoring settings (PROMETHEUS_ENABLED, LOG_FORMAT, ...)."""
        return self.validate_domain("monitoring", config)

    def validate_domain(self, domain: str, config: Mapping[str, Any]) -> tuple[bool, list[str]]:
        """Validate ``config`` as the data of ``domain``'s ConfigMap; ``(valid, errors)``."""
        data = _data_of(config)
        errors: list[str] = []
        entries: dict[str, Entry] = {}
        reg = registry()
        tier = self.environment
        for key, value in data.items():
            spec = reg.by_key.get(str(key))
            if spec is None:
                close = difflib.get_close_matches(str(key), list(reg.by_key), n=1)
                errors.append(f"{key}: unknown KEY" + (f"; did you mean {close[0]}?" if close else ""))
                continue
            if spec.domain != domain:
                errors.append(f"{key}: belongs to the {spec.domain} configuration, not {domain}")
                continue
            if spec.secret:
                errors.append(f"{key}: is a secret and must not be in a ConfigMap (use a Secret)")
                continue
            if spec.meta.derived:
                parsed_tier = _tier_from(value)
                if parsed_tier is None:
                    errors.append(f"{key}: {value!r} is not a tier")
                elif tier is not None and parsed_tier is not tier:
                    errors.append(f"{key}: {value!r} does not match the validated tier {tier.value}")
                tier = tier or parsed_tier
                continue
            try:
                entries[spec.path] = Entry(_typed(value, spec), None)
            except ConversionError as exc:
                errors.append(f"{key}: {exc}")
        layer = Layer("values", "validated ConfigMap", None, entries)
        request = ConfigRequest(tier or EnvironmentTier.DEVELOPMENT, extra_layers=(layer,))
        report = validate(self._tree_once(), request, reader=LayerReader(self._tree_once()))
        errors.extend(_messages(f for f in report.findings if _in_domain(f, domain)))
        return (not errors, errors)


def _tier_from(value: Any) -> EnvironmentTier | None:
    try:
        return EnvironmentTier.parse(str(value))
    except UsageError:
        return None


def _in_domain(finding: Finding, domain: str) -> bool:
    return finding.severity == "error" and (finding.path.split(".", 1)[0] in (domain, ""))


def _messages(findings: Iterable[Finding]) -> list[str]:
    return [f"{f.key or f.path}: {f.message}" for f in findings]


def _typed(value: Any, spec: SettingSpec) -> Any:
    """Accept ConfigMap text or a native Python value for a setting."""
    if isinstance(value, str):
        return parse_rendered(value, spec.type)
    return parse_rendered(render_scalar(value), spec.type)


def _data_of(config: Mapping[str, Any]) -> Mapping[str, Any]:
    if config.get("kind") in ("ConfigMap", "Secret") and isinstance(config.get("data"), Mapping):
        data: Mapping[str, Any] = config["data"]
        return data
    return config


_ENV_NAME = re.compile(r"[^A-Z0-9_]")


class ConfigMapUtils:
    """Small helpers over ConfigMap manifests or plain ``{KEY: value}`` dicts."""

    @staticmethod
    def merge_configs(*configs: Mapping[str, Any]) -> dict[str, Any]:
        """Merge left to right (later wins), deeply for nested mappings; inputs are unchanged.

        Merging two ConfigMap manifests merges their ``data``; the result keeps the last
        manifest's metadata.
        """
        merged: dict[str, Any] = {}
        for config in configs:
            merged = _deep_merge(merged, config)
        return merged

    @staticmethod
    def filter_by_prefix(config: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        """The ``{KEY: value}`` entries whose KEY starts with ``prefix`` (``"DB_"``)."""
        return {k: v for k, v in _data_of(config).items() if str(k).startswith(prefix)}

    @staticmethod
    def transform_to_env_format(config: Mapping[str, Any]) -> dict[str, str]:
        """Environment-variable form: upper-case names, ``true``/``false``, lists comma-joined."""
        out: dict[str, str] = {}
        for key, value in _data_of(config).items():
            name = _ENV_NAME.sub("_", str(key).upper())
            out[name] = value if isinstance(value, str) else render_scalar(value)
        return out

    @staticmethod
    def configmap_names(app: str = "spotify-ai-agent") -> list[str]:
        """The ConfigMap names rendered for ``app``."""
        return [f"{app}-{suffix}" for suffix in CONFIGMAP_SUFFIX.values()]


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: (_deep_merge({}, v) if isinstance(v, Mapping) else v) for k, v in base.items()}
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        elif isinstance(value, Mapping):
            out[key] = _deep_merge({}, value)
        else:
            out[key] = value
    return out


__all__ = ["ConfigMapManager", "ConfigMapUtils", "ConfigurationValidator"]
