"""Reducing manifests to :class:`ObjectState` and building :class:`DesiredState`. Pure.

Server-managed fields (``resourceVersion``, ``uid``, ``managedFields``, timestamps,
``generation``, ``status``...) never enter an :class:`ObjectState`; defaulted fields
(Secret ``type: Opaque``, ``immutable: false``) are normalised so that an absent value
and its default compare equal. Secret values are fingerprinted here, at the edge, so
nothing downstream ever holds them.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from tierconf.render import content_hash
from tierconf.render._manifests import ANNOTATION_CHECKSUM, RenderedSet
from tierconf.secrets._fingerprint import fingerprint
from tierconf.store import Revision

from ._protocol import DesiredState, ObjectState, Scope

CONFIG_KINDS = frozenset({"ConfigMap", "Secret", "ExternalSecret"})
_DERIVED_ANNOTATIONS = frozenset({ANNOTATION_CHECKSUM})
"""Annotations computed from ``data``: comparing the data already covers them."""
_IDENTITY = frozenset({"apiVersion", "kind", "metadata", "data", "stringData", "binaryData", "status"})
# Kustomize hash suffixes are 10 hex digits with 0 1 3 a e replaced by g h k m t.
_HASHED_NAME = re.compile(r"^(?P<base>.+)-[2456789bcdfghkmt]{10}$")


def hashed_base(state: ObjectState) -> str | None:
    """The name without its content-hash suffix, for an immutable hashed object."""
    if not state.immutable:
        return None
    match = _HASHED_NAME.match(state.name)
    return match.group("base") if match else None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":")) + " (not a string)"


def secret_fingerprint(encoded: Any) -> str:
    """The fingerprint of a base64 Secret value (binary or invalid data marked as such)."""
    if not isinstance(encoded, str):
        return fingerprint(f"invalid:{_text(encoded)}")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return fingerprint(f"invalid-base64:{encoded}")
    try:
        return fingerprint(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return fingerprint(f"base64:{encoded}")


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _flatten(f"{prefix}.{key}", item)
    else:
        yield prefix, _text(value)


def field_key(path: Sequence[str]) -> str:
    """How a field path is named in plans: a KEY for data, a dotted path otherwise."""
    if len(path) == 2 and path[0] in ("data", "stringData"):
        return path[1]
    return ".".join(path)


def state_of(
    manifest: Mapping[str, Any], *, fingerprinted: bool = False, own_manager: str | None = None
) -> ObjectState:
    """Reduce a manifest (rendered, stored, read from a file or from the API) to a state.

    Args:
        manifest: the object; list items without ``kind`` must have it filled in first.
        fingerprinted: Secret ``data`` already holds fingerprints (a stored revision).
        own_manager: our field manager; another manager is preferred when naming who
            last wrote a field they share.
    """
    kind = str(manifest.get("kind", ""))
    metadata: Mapping[str, Any] = manifest.get("metadata") or {}
    data: dict[str, str] = {}
    meta: dict[str, str] = {}
    raw_data: Mapping[str, Any] = manifest.get("data") or {}
    if kind == "Secret":
        for key, value in raw_data.items():
            data[str(key)] = str(value) if fingerprinted else secret_fingerprint(value)
        for key, value in (manifest.get("stringData") or {}).items():
            data[str(key)] = fingerprint(_text(value))
        meta["type"] = str(manifest.get("type") or "Opaque")
    elif kind == "ExternalSecret":
        spec = dict(manifest.get("spec") or {})
        for entry in spec.pop("data", None) or []:
            remote = entry.get("remoteRef") or {}
            data[str(entry.get("secretKey"))] = _text(remote.get("key"))
        meta.update(_flatten("spec", spec) if spec else ())
    else:
        data = {str(key): _text(value) for key, value in raw_data.items()}
    if kind in ("ConfigMap", "Secret"):
        meta["immutable"] = "true" if manifest.get("immutable") else "false"
    for name, value in manifest.items():
        if name not in _IDENTITY and name not in ("type", "immutable", "spec"):
            meta.update(_flatten(name, value))
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    for key, value in labels.items():
        meta[f"metadata.labels.{key}"] = value
    for key, value in (metadata.get("annotations") or {}).items():
        if key not in _DERIVED_ANNOTATIONS:
            meta[f"metadata.annotations.{key}"] = _text(value)
    namespace = metadata.get("namespace")
    return ObjectState(
        api_version=str(manifest.get("apiVersion", "")),
        kind=kind,
        name=str(metadata.get("name", "")),
        namespace=str(namespace) if namespace else None,
        data=data,
        meta=meta,
        secret=kind == "Secret",
        labels=labels,
        managers=managers_of(metadata.get("managedFields") or (), own_manager),
        immutable=bool(manifest.get("immutable")),
        created=metadata.get("creationTimestamp"),
        uid=metadata.get("uid"),
    )


def _leaf_paths(fields: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    named = [(k[2:], v) for k, v in fields.items() if k.startswith("f:")]
    if not named:
        if prefix:
            yield prefix
        return
    for name, child in named:
        yield from _leaf_paths(child if isinstance(child, Mapping) else {}, (*prefix, name))


def managers_of(entries: Iterable[Mapping[str, Any]], own_manager: str | None = None) -> dict[str, str]:
    """Field key -> the manager that last wrote it, from ``metadata.managedFields``.

    Entries are read oldest first (by ``time``) so the newest writer wins; a field shared
    with ``own_manager`` is attributed to the other manager.
    """
    owners: dict[str, list[tuple[str, str]]] = {}
    for entry in entries:
        manager = str(entry.get("manager", ""))
        when = str(entry.get("time") or "")
        for path in _leaf_paths(entry.get("fieldsV1") or {}):
            owners.setdefault(field_key(path), []).append((when, manager))
    out: dict[str, str] = {}
    for key, writers in owners.items():
        ordered = sorted(writers)
        others = [m for _, m in ordered if m != own_manager]
        out[key] = others[-1] if others else ordered[-1][1]
    return out


def deployable(
    manifests: Iterable[Mapping[str, Any]], namespace: str, *, immutable: bool = False
) -> tuple[dict[str, Any], ...]:
    """Manifests as a deploy delivers them: moved to ``namespace``, ConfigMaps optionally
    immutable with a kustomize content-hash name suffix.

    Only ConfigMaps are hashed: a hashed Secret's name would depend on its plaintext
    (tierconf stores only fingerprints, so it could not be recomputed from a revision)
    and every rotation would leave the old credential lying in the cluster.
    """
    out: list[dict[str, Any]] = []
    for manifest in manifests:
        copied = copy.deepcopy(dict(manifest))
        copied.setdefault("metadata", {})["namespace"] = namespace
        if immutable and copied.get("kind") == "ConfigMap":
            copied["immutable"] = True
            copied["metadata"]["name"] += "-" + content_hash(copied)
        out.append(copied)
    return tuple(out)


def desired_from_rendered(
    rendered: RenderedSet,
    scope: Scope,
    *,
    workloads: Sequence[str] = (),
    immutable: bool = False,
) -> DesiredState:
    """The desired state of a fresh render (Secret values included, for apply)."""
    return DesiredState(
        scope=scope,
        manifests=deployable(
            (obj.manifest for obj in rendered.objects), scope.namespace, immutable=immutable
        ),
        workloads=tuple(workloads),
        checksum=rendered.checksum(),
    )


def desired_from_revision(
    revision: Revision,
    scope: Scope,
    *,
    workloads: Sequence[str] = (),
    immutable: bool = False,
) -> DesiredState:
    """The desired state a stored revision describes (Secrets as fingerprints: plan only)."""
    return DesiredState(
        scope=scope,
        manifests=deployable(revision.content.manifests, scope.namespace, immutable=immutable),
        fingerprinted=True,
        workloads=tuple(workloads),
        checksum=revision.content.checksum,
        revision=revision.revision,
        message=revision.content.message,
    )


def desired_states(desired: DesiredState) -> tuple[ObjectState, ...]:
    """Each desired manifest reduced to its state."""
    return tuple(state_of(m, fingerprinted=desired.fingerprinted) for m in desired.manifests)


def rollout_checksum(states: Iterable[ObjectState]) -> str:
    """One checksum over the data of every config object (secrets by fingerprint).

    Only ``data`` counts: a changed annotation rolls nothing, while a ConfigMap and a
    Secret changing together change this single value once.
    """
    payload = sorted(
        [state.ref, sorted(state.data.items())] for state in states if state.kind in CONFIG_KINDS
    )
    digest = hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    return "sha256:" + digest.hexdigest()
