"""Kubernetes requests as data, and what tierconf reads out of API objects. Pure.

Nothing here talks to a server: :func:`apply_requests` turns a plan into the list of
:class:`ApiRequest` the target will send, in order, and :func:`pod_references` /
:func:`workload_state` read the objects the API returns. Kept apart from the client so
the ordering and the bodies are tested without any I/O (lightkube's lesson).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tierconf.render._manifests import MANAGED_BY

from ._protocol import ROLLOUT_ANNOTATION, ROLLOUT_FIELD, Plan, TargetOptions, WorkloadState
from ._state import managers_of

APPLY_PATCH = "application/apply-patch+yaml"

Verb = Literal["get", "list", "apply", "delete"]


@dataclass(frozen=True, slots=True)
class Resource:
    """Where a kind lives in the API and how the typed client names its methods."""

    api_version: str
    plural: str
    namespaced: bool
    method: str
    """Suffix of the typed client's methods (``namespaced_config_map``); "" for custom."""

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """The REST path (``/api/v1/namespaces/NS/configmaps/NAME``)."""
        root = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        scope = f"/namespaces/{namespace}" if self.namespaced else ""
        return f"{root}{scope}/{self.plural}" + (f"/{name}" if name else "")


RESOURCES: Mapping[str, Resource] = {
    "Namespace": Resource("v1", "namespaces", False, "namespace"),
    "ConfigMap": Resource("v1", "configmaps", True, "namespaced_config_map"),
    "Secret": Resource("v1", "secrets", True, "namespaced_secret"),
    "Deployment": Resource("apps/v1", "deployments", True, "namespaced_deployment"),
    "StatefulSet": Resource("apps/v1", "statefulsets", True, "namespaced_stateful_set"),
    "ReplicaSet": Resource("apps/v1", "replicasets", True, "namespaced_replica_set"),
    "ExternalSecret": Resource("external-secrets.io/v1beta1", "externalsecrets", True, ""),
}
TYPED_VERB: Mapping[str, str] = {"get": "read", "list": "list", "apply": "patch", "delete": "delete"}
"""How the typed client names each verb (``patch_namespaced_config_map``...)."""


@dataclass(frozen=True)
class ApiRequest:
    """One API call as data. ``body`` may hold Secret values: it is kept out of ``repr``."""

    verb: Verb
    kind: str
    name: str | None
    namespace: str | None
    body: Mapping[str, Any] | None = field(default=None, repr=False)
    label_selector: str | None = None
    field_manager: str | None = None
    force: bool = False
    dry_run: bool = False
    uid: str | None = None

    @property
    def ref(self) -> str:
        """``Kind/name`` (or the kind, for a list)."""
        return f"{self.kind}/{self.name}" if self.name else self.kind

    @property
    def path(self) -> str:
        """The REST path this request goes to."""
        return RESOURCES[self.kind].path(self.namespace, self.name)


def rollout_body(kind: str, name: str, namespace: str, checksum: str) -> dict[str, Any]:
    """The partial workload tierconf applies: only its pod-template checksum annotation."""
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"metadata": {"annotations": {ROLLOUT_ANNOTATION: checksum}}}},
    }


def apply_requests(plan: Plan, options: TargetOptions) -> list[ApiRequest]:
    """The requests that carry out ``plan``, in its order. Pure."""
    requests: list[ApiRequest] = []
    scope = plan.scope
    for obj in plan.objects:
        if obj.action == "noop":
            continue
        if obj.action == "delete":
            requests.append(
                ApiRequest("delete", obj.kind, obj.name, obj.namespace, dry_run=options.dry_run, uid=obj.uid)
            )
            continue
        namespace: str | None = scope.namespace
        if obj.kind == "Namespace":
            namespace = None
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": obj.name, "labels": {MANAGED_BY: "tierconf"}},
            }
        elif obj.kind in ("Deployment", "StatefulSet"):
            body = rollout_body(obj.kind, obj.name, scope.namespace, plan.rollout_checksum or "")
        else:
            body = dict(plan.desired.manifest(obj.ref))
        requests.append(
            ApiRequest(
                "apply", obj.kind, obj.name, namespace, body,
                field_manager=options.field_manager, force=options.force_conflicts, dry_run=options.dry_run,
            )
        )
    return requests


def pod_references(pod_spec: Mapping[str, Any] | None) -> frozenset[str]:
    """``ConfigMap/name`` and ``Secret/name`` a pod spec uses (volumes, envFrom, env)."""
    spec = pod_spec or {}
    refs: set[str] = set()

    def add(kind: str, name: Any) -> None:
        if isinstance(name, str) and name:
            refs.add(f"{kind}/{name}")

    for volume in spec.get("volumes") or []:
        add("ConfigMap", (volume.get("configMap") or {}).get("name"))
        add("Secret", (volume.get("secret") or {}).get("secretName"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            add("ConfigMap", (source.get("configMap") or {}).get("name"))
            add("Secret", (source.get("secret") or {}).get("name"))
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or []:
            for source in container.get("envFrom") or []:
                add("ConfigMap", (source.get("configMapRef") or {}).get("name"))
                add("Secret", (source.get("secretRef") or {}).get("name"))
            for env in container.get("env") or []:
                value_from = env.get("valueFrom") or {}
                add("ConfigMap", (value_from.get("configMapKeyRef") or {}).get("name"))
                add("Secret", (value_from.get("secretKeyRef") or {}).get("name"))
    return frozenset(refs)


def workload_state(ref: str, manifest: Mapping[str, Any], own_manager: str) -> WorkloadState:
    """A live workload's rollout checksum, who wrote it, and what its pods reference."""
    template = (manifest.get("spec") or {}).get("template") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    managers = managers_of((manifest.get("metadata") or {}).get("managedFields") or (), own_manager)
    return WorkloadState(
        ref=ref,
        checksum=annotations.get(ROLLOUT_ANNOTATION),
        manager=managers.get(ROLLOUT_FIELD),
        references=pod_references(template.get("spec")),
    )


def is_live_replicaset(manifest: Mapping[str, Any]) -> bool:
    spec_replicas = (manifest.get("spec") or {}).get("replicas") or 0
    status_replicas = (manifest.get("status") or {}).get("replicas") or 0
    return bool(spec_replicas or status_replicas)
