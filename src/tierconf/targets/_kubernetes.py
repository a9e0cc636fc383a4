"""``kubernetes``: server-side apply with the official client (extra ``kubernetes``).

Requests are built as data first (``_k8s_requests``: :class:`ApiRequest`, no I/O),
then sent one by one by :meth:`KubernetesTarget.send`, the only place that talks to the
API server and the only place its errors are translated::

    ApiException 409 (apply)  -> ApplyConflictError naming the other field managers
    ApiException 401/403/404/422/...  -> DeployError, one line, secrets redacted
    urllib3 / socket errors   -> DeployError "API server URL is unreachable"

Writes are ``PATCH`` with ``application/apply-patch+yaml`` and ``fieldManager=tierconf``
(``force`` only with --force-conflicts, ``dryRun=All`` with --dry-run), in the order of
:data:`tierconf.targets.APPLY_ORDER`. Workloads listed in the project file are rolled by
one applied pod-template annotation (:data:`ROLLOUT_ANNOTATION`) holding one checksum of
all the scope's ConfigMaps and Secrets, so changing several at once rolls them once.

Connection settings come, as kubectl finds them, from ``--kubeconfig``, ``$KUBECONFIG``,
``~/.kube/config`` or the in-cluster service account (:func:`locate_cluster`); that
lookup needs no import of the client, so a machine without a cluster gets the one-line
"no Kubernetes cluster configured" error even without the extra installed.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Literal

from tierconf.errors import DeployError, missing_extra
from tierconf.schema._secret_ref import MASK

from ._k8s_requests import (
    APPLY_PATCH,
    RESOURCES,
    TYPED_VERB,
    ApiRequest,
    apply_requests,
    is_live_replicaset,
    pod_references,
    workload_state,
)
from ._plan import PlanRules, compute_plan
from ._protocol import (
    ApplyConflictError,
    ApplyResult,
    DesiredState,
    LiveState,
    ObjectChange,
    ObjectState,
    Plan,
    Scope,
    TargetOptions,
    WorkloadState,
)
from ._state import state_of

NO_CLUSTER = (
    "no Kubernetes cluster configured (no kubeconfig at ~/.kube/config, KUBECONFIG unset, "
    "not running in a cluster); to deploy to a directory use --target dir:PATH"
)
SERVICE_HOST = "KUBERNETES_SERVICE_HOST"
SERVICE_PORT = "KUBERNETES_SERVICE_PORT"


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Where the connection settings come from."""

    source: Literal["kubeconfig", "in-cluster"]
    files: tuple[Path, ...] = ()
    context: str | None = None


def locate_cluster(
    options: TargetOptions, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> ClusterConfig:
    """Find the cluster as kubectl would: --kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster.

    Raises:
        DeployError: none is configured (one line, suggesting ``--target dir:PATH``).
    """
    env = os.environ if environ is None else environ
    if options.kubeconfig is not None:
        if not options.kubeconfig.is_file():
            raise DeployError(f"kubeconfig {options.kubeconfig} does not exist")
        return ClusterConfig("kubeconfig", (options.kubeconfig,), options.context)
    listed = env.get("KUBECONFIG", "")
    if listed.strip():
        files = tuple(p for p in (Path(s).expanduser() for s in listed.split(os.pathsep) if s) if p.is_file())
        if not files:
            raise DeployError(
                f"KUBECONFIG={listed} names no existing kubeconfig file; fix or unset it; "
                "to deploy to a directory use --target dir:PATH"
            )
        return ClusterConfig("kubeconfig", files, options.context)
    default = (home if home is not None else Path.home()) / ".kube" / "config"
    if default.is_file():
        return ClusterConfig("kubeconfig", (default,), options.context)
    if env.get(SERVICE_HOST) and env.get(SERVICE_PORT):
        return ClusterConfig("in-cluster")
    raise DeployError(NO_CLUSTER)


def _one_line(text: object) -> str:
    return re.sub(r"\s*\n\s*", "; ", str(text)).strip()


class _ApiFailureError(Exception):
    def __init__(self, status: int, reason: str, body: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.body = body


class KubernetesTarget:
    """A :class:`~tierconf.targets.DeployTarget` for one namespace of a cluster.

    Build it with :meth:`from_environment` (what the CLI does), :meth:`from_kubeconfig`
    or :meth:`in_cluster`.
    """

    def __init__(self, scope: Scope, options: TargetOptions, api_client: Any, server: str) -> None:
        self.scope = scope
        self.options = options
        self.server = server
        self._client = api_client
        k8s = _import_client()
        self._api_exception: type[Exception] = k8s.ApiException
        self._delete_options = k8s.V1DeleteOptions
        self._preconditions = k8s.V1Preconditions
        self._apis = {"v1": k8s.CoreV1Api(api_client), "apps/v1": k8s.AppsV1Api(api_client)}
        self._custom = k8s.CustomObjectsApi(api_client)
        self._transport_errors: tuple[type[BaseException], ...] = (
            import_module("urllib3").exceptions.HTTPError,
            OSError,
        )
        self._secrets: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls, scope: Scope, options: TargetOptions | None = None) -> KubernetesTarget:
        """Connect with the settings :func:`locate_cluster` finds.

        Raises:
            DeployError: no cluster is configured, or its kubeconfig is unusable.
            DependencyMissingError: the ``kubernetes`` extra is not installed.
        """
        options = options or TargetOptions()
        config = locate_cluster(options)
        if config.source == "in-cluster":
            return cls.in_cluster(scope, options)
        return cls.from_kubeconfig(config.files, scope, options)

    @classmethod
    def from_kubeconfig(
        cls, files: Iterable[Path], scope: Scope, options: TargetOptions | None = None
    ) -> KubernetesTarget:
        """Connect with kubeconfig ``files`` (merged as $KUBECONFIG is) and ``options.context``."""
        options = options or TargetOptions()
        paths = tuple(files)
        config_module = _import_module("kubernetes.config")
        configuration = _import_client().Configuration()
        try:
            config_module.load_kube_config(
                config_file=os.pathsep.join(str(p) for p in paths),
                context=options.context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (config_module.ConfigException, OSError, ValueError, TypeError) as exc:
            names = ", ".join(str(p) for p in paths)
            raise DeployError(f"cannot use kubeconfig {names}: {_one_line(exc)}") from exc
        return cls._connect(scope, options, configuration)

    @classmethod
    def in_cluster(cls, scope: Scope, options: TargetOptions | None = None) -> KubernetesTarget:
        """Connect with the pod's service account."""
        options = options or TargetOptions()
        config_module = _import_module("kubernetes.config")
        configuration = _import_client().Configuration()
        try:
            config_module.load_incluster_config(client_configuration=configuration)
        except (config_module.ConfigException, OSError) as exc:
            raise DeployError(f"cannot use the in-cluster service account: {_one_line(exc)}") from exc
        return cls._connect(scope, options, configuration)

    @classmethod
    def _connect(cls, scope: Scope, options: TargetOptions, configuration: Any) -> KubernetesTarget:
        # No urllib3 retries: a refused connection fails at once (and logs no retry warning).
        configuration.retries = False
        api_client = _import_client().ApiClient(configuration=configuration)
        return cls(scope, options, api_client, str(configuration.host))

    @property
    def name(self) -> str:
        """``kubernetes:SERVER (namespace NS)``."""
        return f"kubernetes:{self.server} (namespace {self.scope.namespace})"

    def _call(self, request: ApiRequest) -> Any:
        resource = RESOURCES[request.kind]
        kwargs: dict[str, Any] = {}
        if request.verb == "list" and request.label_selector:
            kwargs["label_selector"] = request.label_selector
        if request.verb == "apply":
            kwargs.update(field_manager=request.field_manager, _content_type=APPLY_PATCH)
            if request.force:
                kwargs["force"] = True
        if request.dry_run:
            kwargs["dry_run"] = "All"
        if request.verb == "delete" and request.uid:
            kwargs["body"] = self._delete_options(preconditions=self._preconditions(uid=request.uid))
        if not resource.method:
            group, _, version = resource.api_version.partition("/")
            head: list[Any] = [group, version, request.namespace, resource.plural]
            if request.verb != "list":
                head.append(request.name)
            if request.verb == "apply":
                head.append(dict(request.body or {}))
            verb = {"get": "get", "list": "list", "apply": "patch", "delete": "delete"}[request.verb]
            method: Callable[..., Any] = getattr(self._custom, f"{verb}_namespaced_custom_object")
            return method(*head, **kwargs, **self._transport())
        args: list[Any] = []
        if request.verb != "list":
            args.append(request.name)
        if resource.namespaced:
            args.append(request.namespace)
        if request.verb == "apply":
            args.append(dict(request.body or {}))
        typed = self._apis[resource.api_version]
        method = getattr(typed, f"{TYPED_VERB[request.verb]}_{resource.method}")
        return method(*args, **kwargs, **self._transport())

    def _transport(self) -> dict[str, Any]:
        timeout = max(self.options.timeout, 1.0)
        return {"_preload_content": False, "_request_timeout": (min(10.0, timeout), timeout)}

    def _raw(self, request: ApiRequest) -> dict[str, Any]:
        try:
            response = self._call(request)
        except self._api_exception as exc:
            status = int(getattr(exc, "status", 0) or 0)
            try:
                body = json.loads(getattr(exc, "body", None) or "{}")
            except ValueError:
                body = {}
            reason = str(getattr(exc, "reason", ""))
            raise _ApiFailureError(status, reason, body if isinstance(body, dict) else {}) from exc
        except self._transport_errors as exc:
            raise DeployError(
                f"Kubernetes API server {self.server} is unreachable ({_transport_reason(exc)}); "
                "check the kubeconfig context, or deploy to a directory with --target dir:PATH"
            ) from exc
        data = response.data
        return json.loads(data) if data else {}

    def send(self, request: ApiRequest, *, missing_ok: bool = False) -> dict[str, Any] | None:
        """Send one request; the decoded JSON response (``None``: 404 with ``missing_ok``).

        Raises:
            ApplyConflictError: a 409 on apply, naming the other field managers.
            DeployError: any other refusal, or the server is unreachable (one line).
        """
        try:
            return self._raw(request)
        except _ApiFailureError as failure:
            if failure.status == 404 and missing_ok:
                return None
            raise self._refusal(request, failure) from failure

    def _refusal(self, request: ApiRequest, failure: _ApiFailureError) -> DeployError:
        body = failure.body
        message = self._redact(_one_line(body.get("message") or failure.reason or "no message"))
        what = {"get": "read", "list": "list", "apply": "apply", "delete": "delete"}[request.verb]
        ref = request.ref
        if failure.status == 409 and request.verb == "apply":
            causes = (body.get("details") or {}).get("causes") or []
            texts = [str(c.get("message", "")) for c in causes] or [message]
            managers = tuple(sorted({m for t in texts for m in re.findall(r'conflicts? with "([^"]+)"', t)}))
            fields = tuple(str(c["field"]) for c in causes if c.get("field"))
            who = ", ".join(f'"{m}"' for m in managers) or "another field manager"
            return ApplyConflictError(
                f"{ref}: server-side apply conflict with field manager {who} on "
                f"{', '.join(fields) or 'some fields'}; another tool changed them since tierconf "
                "applied; re-run with --force-conflicts to take them over",
                managers=managers,
                fields=fields,
            )
        if failure.status == 401:
            return DeployError(f"{self.server}: unauthorized (401); check the kubeconfig credentials")
        labels = {403: "forbidden", 404: "not found", 409: "conflict", 422: "rejected as invalid"}
        label = labels.get(failure.status, f"failed ({failure.status} {failure.reason})".strip())
        hint = ""
        if request.kind == "ExternalSecret" and failure.status == 404 and request.verb == "apply":
            hint = "; is the External Secrets Operator (CRD externalsecrets.external-secrets.io) installed?"
        return DeployError(f"{ref}: {what} {label}: {message}{hint}")

    def _redact(self, text: str) -> str:
        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    def read_live(self) -> LiveState:
        """The scope's labelled ConfigMaps, Secrets and ExternalSecrets, and its namespace."""
        namespace = self.scope.namespace
        try:
            exists = self._raw(ApiRequest("get", "Namespace", namespace, None)) is not None
        except _ApiFailureError as failure:
            if failure.status == 404:
                exists = False
            elif failure.status == 403:
                exists = True  # namespaced RBAC only: the applies will tell
            else:
                raise self._refusal(ApiRequest("get", "Namespace", namespace, None), failure) from failure
        objects: list[ObjectState] = []
        if exists:
            for kind in ("Secret", "ConfigMap", "ExternalSecret"):
                listed = self._list(kind, self.scope.selector())
                objects.extend(state_of(m, own_manager=self.options.field_manager) for m in listed)
        return LiveState(objects=tuple(objects), namespace_exists=exists)

    def _list(self, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        resource = RESOURCES[kind]
        request = ApiRequest("list", kind, None, self.scope.namespace, label_selector=selector)
        try:
            listed = self._raw(request)
        except _ApiFailureError as failure:
            # No CRD (404), or no right to read a kind tierconf may not even use (403).
            if failure.status == 404 or (failure.status == 403 and kind == "ExternalSecret"):
                return []
            raise self._refusal(request, failure) from failure
        items = listed.get("items") or []
        # List items carry no kind/apiVersion in the API's JSON: put them back.
        return [{"apiVersion": resource.api_version, "kind": kind, **item} for item in items]

    def _get(self, kind: str, name: str) -> dict[str, Any] | None:
        got = self.send(ApiRequest("get", kind, name, self.scope.namespace), missing_ok=True)
        if got is not None:
            got.setdefault("kind", kind)
            got.setdefault("apiVersion", RESOURCES[kind].api_version)
        return got

    def plan(self, desired: DesiredState) -> Plan:
        """Read the namespace, the scope's objects, the workloads and (for --prune) what
        live ReplicaSets and StatefulSets still reference; then plan."""
        self._secrets = _secret_values(desired)
        live = self.read_live()
        objects = list(live.objects)
        workloads: dict[str, WorkloadState] = {}
        referenced: dict[str, set[str]] = {}
        if live.namespace_exists:
            have = {o.ref for o in objects}
            for manifest in desired.manifests:
                kind, name = str(manifest["kind"]), str(manifest["metadata"]["name"])
                if f"{kind}/{name}" not in have and kind in RESOURCES:
                    got = self._get(kind, name)
                    if got is not None:
                        objects.append(state_of(got, own_manager=self.options.field_manager))
            for ref in desired.workloads:
                kind, _, name = ref.partition("/")
                got = self._get(kind, name)
                if got is not None:
                    workloads[ref] = workload_state(ref, got, self.options.field_manager)
                    for used in workloads[ref].references:
                        referenced.setdefault(used, set()).add(ref)
            if self.options.prune:
                for kind in ("ReplicaSet", "StatefulSet"):
                    for item in self._list(kind):
                        if kind == "ReplicaSet" and not is_live_replicaset(item):
                            continue
                        spec = ((item.get("spec") or {}).get("template") or {}).get("spec")
                        for used in pod_references(spec):
                            referenced.setdefault(used, set()).add(f"{kind}/{item['metadata']['name']}")
        state = LiveState(
            objects=tuple(objects),
            namespace_exists=live.namespace_exists,
            workloads=workloads,
            referenced={ref: tuple(sorted(users)) for ref, users in referenced.items()},
        )
        rules = PlanRules(
            prune=self.options.prune,
            keep_hashed=self.options.keep_hashed,
            manage_namespace=True,
            create_namespace=self.options.create_namespace,
            rollout=True,
        )
        return compute_plan(self.name, desired, state, rules)

    def apply(self, plan: Plan) -> ApplyResult:
        """Send the plan's requests in order (server-side dry run with ``dry_run``)."""
        plan.check_applicable()
        self._secrets = _secret_values(plan.desired)
        requests = apply_requests(plan, self.options)
        by_ref = {obj.ref: obj for obj in plan.objects}
        new_namespace = any(o.kind == "Namespace" and o.action == "create" for o in plan.objects)
        done: list[ObjectChange] = []
        notes: list[str] = []
        for index, request in enumerate(requests):
            if self.options.dry_run and new_namespace and request.namespace is not None:
                notes.append(
                    f"{request.ref} not validated by the server: namespace {request.namespace} "
                    "does not exist yet (dry run)"
                )
                continue
            try:
                self.send(request)
            except DeployError as exc:
                exc.message += (
                    " (nothing was applied: dry run)" if self.options.dry_run
                    else f" (applied {index} of {len(requests)} changes before this one)"
                )
                raise
            done.append(by_ref[request.ref])
        rolled = tuple(o.ref for o in done if o.kind in ("Deployment", "StatefulSet"))
        return ApplyResult(
            target=self.name,
            dry_run=self.options.dry_run,
            created=tuple(o.ref for o in done if o.action == "create"),
            updated=tuple(o.ref for o in done if o.action == "update" and o.ref not in rolled),
            deleted=tuple(o.ref for o in done if o.action == "delete"),
            rolled=rolled,
            notes=tuple(notes),
        )

    def close(self) -> None:
        """Close the client's connection pool."""
        self._client.close()


def _secret_values(desired: DesiredState) -> tuple[str, ...]:
    """Plaintext and base64 forms of the desired Secret values, to redact from messages."""
    if desired.fingerprinted:
        return ()
    values: set[str] = set()
    for manifest in desired.manifests:
        if manifest.get("kind") != "Secret":
            continue
        for encoded in (manifest.get("data") or {}).values():
            values.add(str(encoded))
            try:
                values.add(base64.b64decode(str(encoded)).decode("utf-8"))
            except (binascii.Error, ValueError):
                continue
    return tuple(v for v in values if len(v) >= 4)


def _transport_reason(exc: BaseException) -> str:
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if match:
        return match.group(1).strip().lower()
    return type(exc).__name__


def _import_module(name: str) -> Any:
    try:
        return import_module(name)
    except ImportError as exc:
        raise missing_extra("kubernetes", "kubernetes") from exc


def _import_client() -> Any:
    return _import_module("kubernetes.client")
