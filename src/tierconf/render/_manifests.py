"""Rendering a resolved configuration to Kubernetes objects.

One ConfigMap per domain (the seed's names) plus one for feature flags, and one Secret per
domain that has secret settings. A secret KEY never lands in a ConfigMap: the split is made
from the schema's ``secret`` flag, not from values. Pure: no I/O, deterministic order.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tierconf.pipeline import ResolvedConfig
from tierconf.render._hash import content_hash
from tierconf.render._values import canonical_json, get_path, render_flag, render_scalar
from tierconf.schema._flags import flag_key
from tierconf.schema._registry import SettingSpec, registry
from tierconf.schema._root import DOMAIN_MODELS
from tierconf.schema._secret_ref import MASK
from tierconf.secrets._fingerprint import fingerprint
from tierconf.secrets._resolve import SecretValues

SecretsMode = Literal["inline", "external"]

#: ConfigMap name per domain, after the app name (CONTRACT.md "ConfigMap names").
CONFIGMAP_SUFFIX = {
    "application": "config",
    "database": "database-config",
    "security": "security-config",
    "ml": "ml-config",
    "monitoring": "monitoring-config",
    "flags": "feature-flags",
}
SECRET_SUFFIX = {
    "application": "secrets",
    "database": "database-secrets",
    "security": "security-secrets",
    "ml": "ml-secrets",
    "monitoring": "monitoring-secrets",
}
ANNOTATION_CHECKSUM = "tierconf.io/checksum"
ANNOTATION_LAYERS = "tierconf.io/source-layers"
LABEL_TIER = "tierconf.io/tier"
LABEL_TENANT = "tierconf.io/tenant"
MANAGED_BY = "app.kubernetes.io/managed-by"


@dataclass(frozen=True)
class RenderOptions:
    """How to render: target namespace, immutable hashed names, and secret handling."""

    namespace: str | None = None
    immutable: bool = False
    secrets: SecretsMode = "inline"
    external_store: str = "tierconf-secret-store"


@dataclass(frozen=True)
class RenderedObject:
    """One Kubernetes object. ``manifest`` is complete (a Secret holds base64 values)."""

    manifest: Mapping[str, Any]
    domain: str
    secret_keys: frozenset[str] = frozenset()

    @property
    def kind(self) -> str:
        """``ConfigMap``, ``Secret`` or ``ExternalSecret``."""
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        """metadata.name."""
        return str(self.manifest["metadata"]["name"])

    @property
    def ref(self) -> str:
        """``Kind/name``, how objects are named in diffs and drift reports."""
        return f"{self.kind}/{self.name}"

    @property
    def is_secret(self) -> bool:
        """Whether the object carries secret values."""
        return self.kind == "Secret"

    def values(self) -> dict[str, str]:
        """KEY -> plaintext value (Secret values decoded)."""
        data: Mapping[str, str] = self.manifest.get("data") or {}
        if self.kind == "Secret":
            return {k: base64.b64decode(v).decode("utf-8") for k, v in data.items()}
        return dict(data)

    def masked(self) -> dict[str, Any]:
        """The manifest with every secret value replaced by the mask.

        ConfigMap values that the leak detector recognises as credentials are masked too:
        nothing printed may carry a value detected as a secret (CONTRACT.md).
        """
        copy = _copy(self.manifest)
        if self.is_secret:
            copy["data"] = dict.fromkeys(copy.get("data") or {}, MASK)
        elif self.kind == "ConfigMap":
            copy["data"] = {k: _redact(v) for k, v in (copy.get("data") or {}).items()}
        return copy

    def fingerprinted(self) -> dict[str, Any]:
        """The manifest with secret values (declared or detected) replaced by fingerprints.

        This is what the revision store keeps and what checksums are computed over, so a
        changed secret still changes the checksum without its value being stored.
        """
        copy = _copy(self.manifest)
        if self.is_secret:
            copy["data"] = {k: fingerprint(v) for k, v in self.values().items()}
        elif self.kind == "ConfigMap":
            copy["data"] = {
                k: (fingerprint(v) if _redact(v) != v else v) for k, v in (copy.get("data") or {}).items()
            }
        return copy


def _redact(value: str) -> str:
    from tierconf.rules import redact

    return redact(value)


def _copy(manifest: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in manifest.items():
        out[key] = _copy(value) if isinstance(value, Mapping) else value
    return out


@dataclass(frozen=True)
class RenderedSet:
    """Everything rendered for one tier (and tenant), in a stable order."""

    objects: tuple[RenderedObject, ...]
    namespace: str

    def masked_manifests(self) -> list[dict[str, Any]]:
        """All manifests, secrets masked: safe to print."""
        return [obj.masked() for obj in self.objects]

    def fingerprinted_manifests(self) -> list[dict[str, Any]]:
        """All manifests, secrets fingerprinted: safe to store and diff."""
        return [obj.fingerprinted() for obj in self.objects]

    def checksum(self) -> str:
        """SHA-256 over the fingerprinted manifests: equal content, equal checksum."""
        return (
            "sha256:"
            + hashlib.sha256(canonical_json(self.fingerprinted_manifests()).encode("utf-8")).hexdigest()
        )

    def flat(self, *, masked: bool = True) -> dict[str, str]:
        """KEY -> value across all objects; secret values masked unless ``masked=False``."""
        out: dict[str, str] = {}
        for obj in self.objects:
            if obj.kind == "ExternalSecret":
                continue
            for key, value in obj.values().items():
                out[key] = MASK if (masked and obj.is_secret) else value
        return out


def _source_layers(resolved: ResolvedConfig, paths: Iterable[str]) -> str:
    names: set[str] = set()
    for path in paths:
        layered = resolved.values.get(path)
        if layered is None:
            continue
        names.update(o.layer for o in layered.chain if o.file is not None)
    order = {name: i for i, name in enumerate(resolved.layer_names)}
    return ",".join(sorted(names, key=lambda n: (order.get(n, len(order)), n)))


def _metadata(
    resolved: ResolvedConfig, name: str, namespace: str, component: str, data_checksum: str, layers: str
) -> dict[str, Any]:
    project = resolved.tree.project
    tier = resolved.tier
    instance = f"{project.app}-{tier.short}" + (f"-{resolved.tenant}" if resolved.tenant else "")
    labels = {
        "app.kubernetes.io/name": project.app,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": project.part_of or project.app,
        MANAGED_BY: "tierconf",
        LABEL_TIER: tier.value,
    }
    if resolved.tenant:
        labels[LABEL_TENANT] = resolved.tenant
    annotations = {ANNOTATION_CHECKSUM: data_checksum}
    if layers:
        annotations[ANNOTATION_LAYERS] = layers
    return {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations}


def _checksum(data: Mapping[str, str]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(dict(data)).encode("utf-8")).hexdigest()


def _object_name(resolved: ResolvedConfig, suffix: str) -> str:
    name = f"{resolved.tree.project.app}-{suffix}"
    return f"{name}-{resolved.tenant}" if resolved.tenant else name


def _finish(manifest: dict[str, Any], options: RenderOptions) -> dict[str, Any]:
    if options.immutable:
        manifest["immutable"] = True
        manifest["metadata"]["name"] += "-" + content_hash(manifest)
    return manifest


def render_configmaps(
    resolved: ResolvedConfig, options: RenderOptions, namespace: str
) -> list[RenderedObject]:
    """One ConfigMap per domain with every non-secret KEY, plus the feature-flags one."""
    reg = registry()
    by_domain: dict[str, list[SettingSpec]] = {domain: [] for domain in DOMAIN_MODELS}
    for spec in reg.settings:
        if not spec.secret:
            by_domain[spec.domain].append(spec)
    objects: list[RenderedObject] = []
    for domain, specs in by_domain.items():
        data = {s.key: render_scalar(get_path(resolved.config, s.path)) for s in specs}
        data = dict(sorted(data.items()))
        layers = _source_layers(resolved, (s.path for s in specs))
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _metadata(
                resolved,
                _object_name(resolved, CONFIGMAP_SUFFIX[domain]),
                namespace,
                f"{domain}-config",
                _checksum(data),
                layers,
            ),
            "data": data,
        }
        objects.append(RenderedObject(_finish(manifest, options), domain))
    flags = resolved.config.flags
    flag_data = {flag_key(name): render_flag(flags[name]) for name in sorted(flags)}
    flag_paths = [p for p in resolved.values if p.startswith("flags.")]
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(
            resolved,
            _object_name(resolved, CONFIGMAP_SUFFIX["flags"]),
            namespace,
            "feature-flags",
            _checksum(flag_data),
            _source_layers(resolved, flag_paths),
        ),
        "data": flag_data,
    }
    objects.append(RenderedObject(_finish(manifest, options), "flags"))
    return objects


def render_secrets(
    resolved: ResolvedConfig, secrets: SecretValues, options: RenderOptions, namespace: str
) -> list[RenderedObject]:
    """One Secret (or ExternalSecret) per domain that declares secret settings."""
    reg = registry()
    objects: list[RenderedObject] = []
    for domain in DOMAIN_MODELS:
        specs = [s for s in reg.settings if s.secret and s.domain == domain]
        if not specs:
            continue
        name = _object_name(resolved, SECRET_SUFFIX[domain])
        keys = frozenset(s.key for s in specs)
        layers = _source_layers(resolved, (s.path for s in specs))
        if options.secrets == "external":
            objects.append(
                RenderedObject(_external_secret(resolved, name, namespace, specs, layers, options), domain)
            )
            continue
        plain = {s.key: secrets.value(s.key) for s in sorted(specs, key=lambda s: s.key)}
        checksum = _checksum({k: fingerprint(v) for k, v in plain.items()})
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _metadata(resolved, name, namespace, f"{domain}-secrets", checksum, layers),
            "type": "Opaque",
            "data": {k: base64.b64encode(v.encode("utf-8")).decode("ascii") for k, v in plain.items()},
        }
        objects.append(RenderedObject(_finish(manifest, options), domain, keys))
    return objects


def _external_secret(
    resolved: ResolvedConfig,
    name: str,
    namespace: str,
    specs: list[SettingSpec],
    layers: str,
    options: RenderOptions,
) -> dict[str, Any]:
    project = resolved.tree.project
    scope = f"{project.app}/{resolved.tier.value}"
    entries = [
        {"secretKey": s.key, "remoteRef": {"key": f"{scope}/{s.key}"}}
        for s in sorted(specs, key=lambda s: s.key)
    ]
    metadata = _metadata(
        resolved,
        name,
        namespace,
        "external-secrets",
        _checksum({s.key: f"{scope}/{s.key}" for s in specs}),
        layers,
    )
    return {
        "apiVersion": "external-secrets.io/v1beta1",
        "kind": "ExternalSecret",
        "metadata": metadata,
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": options.external_store},
            "target": {"name": name, "creationPolicy": "Owner"},
            "data": entries,
        },
    }


def render(
    resolved: ResolvedConfig, secrets: SecretValues, options: RenderOptions | None = None
) -> RenderedSet:
    """Render every object of ``resolved`` (ConfigMaps first, then Secrets)."""
    options = options or RenderOptions()
    namespace = options.namespace or resolved.tree.project.namespace_for(resolved.tier, resolved.tenant)
    objects = [
        *render_configmaps(resolved, options, namespace),
        *render_secrets(resolved, secrets, options, namespace),
    ]
    return RenderedSet(tuple(objects), namespace)
