"""A faithful fake of the Kubernetes API server behaviour tierconf relies on.

No API server can run on the test machines, so this HTTP server (``http.server`` in a
thread, 127.0.0.1, a free port) speaks the real REST paths, content types and Status
bodies, and the real client (``kubernetes``) is driven against it through a kubeconfig.

What it implements, as the API server does:

- paths ``/api/v1/...`` and ``/apis/GROUP/VERSION/...``, namespaced and cluster-scoped;
  Namespaces, ConfigMaps, Secrets, apps/v1 Deployments, StatefulSets and ReplicaSets, and
  ExternalSecrets only when created with ``crds=True`` (else 404 "the server could not
  find the requested resource");
- bearer-token authentication (401 Status otherwise);
- GET, LIST with ``labelSelector`` (``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``,
  ``!key``; 400 on a malformed one); list items without ``kind``/``apiVersion``;
- server-side apply: ``PATCH`` with ``application/apply-patch+yaml``, ``fieldManager``
  required, ``force``, ``dryRun=All`` (nothing persisted); per-manager ownership kept in
  ``metadata.managedFields`` (FieldsV1); a changed value owned by another manager is a
  409 Conflict Status whose message and causes name that manager as the API does
  (``conflict with "kubectl-edit" using v1``); fields a manager stops applying are
  removed unless someone else owns them; a no-op apply writes nothing;
- merge patch (``application/merge-patch+json``) as an ``Update`` operation that takes
  ownership of the fields it changes (what ``kubectl edit`` does);
- DELETE with ``dryRun=All`` and ``preconditions.uid`` (409 when it does not match);
- ``resourceVersion`` bumped on every write, ``uid``, ``creationTimestamp``, and
  ``generation`` bumped when a workload's ``spec`` changes;
- 404/409/422 Status bodies (``kind: Status``, ``apiVersion: v1``, ``status: Failure``,
  ``reason``, ``details``, ``code``); 422 for invalid data keys, for changing an
  immutable ConfigMap/Secret, and for creating a workload without selector/containers.

Simplifications (documented, not relied on by tierconf): lists are atomic for ownership;
timestamps come from a logical clock (one second per write); no watch, no admission, no
controllers (ReplicaSets are seeded by tests).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

Path_ = tuple[str, ...]
_MISSING = object()
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


@dataclass(frozen=True)
class Kind:
    """One served resource."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def qualified(self) -> str:
        """``configmaps`` or ``deployments.apps``, as messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


BUILTIN = (
    Kind("Namespace", "v1", "namespaces", False),
    Kind("ConfigMap", "v1", "configmaps", True),
    Kind("Secret", "v1", "secrets", True),
    Kind("Deployment", "apps/v1", "deployments", True),
    Kind("StatefulSet", "apps/v1", "statefulsets", True),
    Kind("ReplicaSet", "apps/v1", "replicasets", True),
)
EXTERNAL_SECRET = Kind("ExternalSecret", "external-secrets.io/v1beta1", "externalsecrets", True)
WORKLOADS = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})


class ApiError(Exception):
    """An error answered as a Status body."""

    def __init__(
        self, code: int, reason: str, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
        if details is not None:
            self.body["details"] = dict(details)


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    content_type: str | None
    body: bytes = b""


def _leaves(value: Any, prefix: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, (*prefix, str(key)))
    elif prefix:
        yield prefix, value


_NOT_OWNED: frozenset[Path_] = frozenset(
    {
        ("apiVersion",),
        ("kind",),
        ("metadata", "name"),
        ("metadata", "namespace"),
        ("metadata", "resourceVersion"),
        ("metadata", "uid"),
        ("metadata", "creationTimestamp"),
        ("metadata", "generation"),
        ("metadata", "managedFields"),
    }
)


def _owned_leaves(body: Mapping[str, Any]) -> dict[Path_, Any]:
    return {
        path: value
        for path, value in _leaves(dict(body))
        if path not in _NOT_OWNED
        and path[0] != "status"
        and not (len(path) > 1 and path[:2] == ("metadata", "managedFields"))
    }


def _get(obj: Any, path: Path_) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


def _set(obj: dict[str, Any], path: Path_, value: Any) -> None:
    for part in path[:-1]:
        child = obj.get(part)
        if not isinstance(child, dict):
            child = obj[part] = {}
        obj = child
    obj[path[-1]] = copy.deepcopy(value)


def _delete(obj: dict[str, Any], path: Path_) -> None:
    parents = [obj]
    for part in path[:-1]:
        child = parents[-1].get(part)
        if not isinstance(child, dict):
            return
        parents.append(child)
    parents[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):  # drop maps the removal left empty
        if parents[depth]:
            break
        parents[depth - 1].pop(path[depth - 1], None)


def _fields_v1(paths: set[Path_]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def _paths_of(fields: Mapping[str, Any], prefix: Path_ = ()) -> set[Path_]:
    named = {k[2:]: v for k, v in fields.items() if k.startswith("f:")}
    if not named:
        return {prefix} if prefix else set()
    out: set[Path_] = set()
    for name, child in named.items():
        out |= _paths_of(child if isinstance(child, dict) else {}, (*prefix, name))
    return out


def _comparable(obj: Mapping[str, Any]) -> tuple[Any, Any]:
    """An object without its write bookkeeping, and its owners without their times."""
    metadata = obj["metadata"]
    owners = [(e["manager"], e["operation"], e.get("fieldsV1")) for e in metadata.get("managedFields") or []]
    rest = {k: v for k, v in metadata.items() if k not in ("managedFields", "resourceVersion")}
    return {**obj, "metadata": rest}, owners


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _selector(text: str) -> list[tuple[str, str, frozenset[str]]]:
    terms: list[tuple[str, str, frozenset[str]]] = []
    for raw in re.split(r",(?![^(]*\))", text):
        term = raw.strip()
        if not term:
            continue
        if match := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term):
            values = frozenset(v.strip() for v in match.group(3).split(",") if v.strip())
            terms.append((match.group(1), match.group(2), values))
        elif match := re.fullmatch(r"!([\w./-]+)", term):
            terms.append((match.group(1), "!", frozenset()))
        elif match := re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)", term):
            op = "=" if match.group(2) == "==" else match.group(2)
            terms.append((match.group(1), op, frozenset({match.group(3)})))
        elif re.fullmatch(r"[\w./-]+", term):
            terms.append((term, "exists", frozenset()))
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
    return terms


def _matches(labels: Mapping[str, str], terms: list[tuple[str, str, frozenset[str]]]) -> bool:
    for key, op, values in terms:
        present = key in labels
        value = labels.get(key)
        ok = {
            "=": present and value in values,
            "!=": not present or value not in values,
            "in": present and value in values,
            "notin": not present or value not in values,
            "!": not present,
            "exists": present,
        }[op]
        if not ok:
            return False
    return True


class FakeKubeAPI:
    """The fake API server; use as a context manager or call start()/stop()."""

    def __init__(self, *, token: str = "fake-token", crds: bool = False) -> None:
        self.token = token
        self.kinds: dict[tuple[str, str], Kind] = {(k.api_version, k.plural): k for k in BUILTIN}
        if crds:
            self.kinds[(EXTERNAL_SECRET.api_version, EXTERNAL_SECRET.plural)] = EXTERNAL_SECRET
        self.by_kind = {k.kind: k for k in self.kinds.values()}
        self._objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.RLock()
        self._rv = 100
        self._clock = datetime(2024, 1, 1, tzinfo=UTC)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeKubeAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                # As Go's net/http does: without it, Nagle + delayed ACK add 40 ms a request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                code, body = fake.handle(self.command, self.path, dict(self.headers.items()), raw)
                data = json.dumps(body).encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _handle  # noqa: N815 - http.server's method names

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeKubeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def write_kubeconfig(self, path: Path, *, token: str | None = None) -> Path:
        """A kubeconfig whose current context points at this server."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": token or self.token}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    # -- helpers for tests ---------------------------------------------------------------

    def create_namespace(self, name: str) -> None:
        self.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def seed(self, manifest: Mapping[str, Any], manager: str = "kubectl-create") -> dict[str, Any]:
        """Create an object directly (an Update operation by ``manager``)."""
        kind = self.by_kind[str(manifest["kind"])]
        namespace = manifest["metadata"].get("namespace") if kind.namespaced else None
        with self._lock:
            return self._write(
                kind, namespace, str(manifest["metadata"]["name"]), dict(manifest), None, manager
            )

    def edit(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
        manager: str = "kubectl-edit",
    ) -> dict[str, Any]:
        """A merge patch by ``manager``, as ``kubectl edit`` would send."""
        info = self.by_kind[kind]
        with self._lock:
            return self._update(info, namespace, name, patch, manager, dry_run=False)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        info = self.by_kind[kind]
        found = self._objects.get((info.plural, namespace if info.namespaced else None, name))
        return copy.deepcopy(found) if found is not None else None

    def names(self, kind: str, namespace: str | None) -> list[str]:
        info = self.by_kind[kind]
        return sorted(n for (p, ns, n) in self._objects if p == info.plural and ns == namespace)

    def writes(self, method: str, path_suffix: str) -> list[Recorded]:
        """Requests with ``method`` whose path ends with ``path_suffix``."""
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    # -- HTTP ----------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        lowered = {k.lower(): v for k, v in headers.items()}
        content_type = lowered.get("content-type")
        with self._lock:
            self.requests.append(Recorded(method, parts.path, query, content_type, raw))
            if lowered.get("authorization") != f"Bearer {self.token}":
                return 401, ApiError(401, "Unauthorized", "Unauthorized").body
            try:
                return self._route(method, parts.path, query, content_type, raw)
            except ApiError as error:
                return error.code, error.body

    def _route(
        self, method: str, path: str, query: Mapping[str, list[str]], content_type: str | None, raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        segments = [s for s in path.split("/") if s]
        if segments[:1] == ["api"] and len(segments) >= 2:
            api_version, rest = segments[1], segments[2:]
        elif segments[:1] == ["apis"] and len(segments) >= 3:
            api_version, rest = f"{segments[1]}/{segments[2]}", segments[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        info = self.kinds.get((api_version, rest[0]))
        if info is None or (info.namespaced and namespace is None and len(rest) == 2):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        name = rest[1] if len(rest) == 2 else None
        dry_run = query.get("dryRun", [None])[0]
        if dry_run not in (None, "All"):
            raise ApiError(400, "BadRequest", f"invalid dry run option: {dry_run!r}")
        if method == "GET" and name is None:
            return 200, self._list(info, namespace, query.get("labelSelector", [""])[0])
        if method == "GET" and name is not None:
            return 200, self._read(info, namespace, name)
        if method == "PATCH" and name is not None:
            body = self._decode(raw)
            manager = query.get("fieldManager", [None])[0]
            if content_type and content_type.startswith("application/apply-patch+yaml"):
                if not manager:
                    raise ApiError(
                        422,
                        "Invalid",
                        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                        "is required for apply patch",
                    )
                force = query.get("force", ["false"])[0] == "true"
                return self._apply(
                    info, namespace, name, body, manager, force=force, dry_run=dry_run == "All"
                )
            if content_type and content_type.split(";")[0] in (
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ):
                if "force" in query:
                    raise ApiError(
                        400, "BadRequest", "force flag is not allowed for non-apply patch requests"
                    )
                return 200, self._update(
                    info, namespace, name, body, manager or "unknown", dry_run=dry_run == "All"
                )
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            )
        if method == "DELETE" and name is not None:
            return 200, self._remove(
                info, namespace, name, self._decode(raw) if raw else {}, dry_run == "All"
            )
        raise ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    @staticmethod
    def _decode(raw: bytes) -> dict[str, Any]:
        try:
            body = yaml.safe_load(raw.decode("utf-8")) if raw else {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ApiError(400, "BadRequest", f"error decoding YAML: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be an object")
        return body

    def _key(self, info: Kind, namespace: str | None, name: str) -> tuple[str, str | None, str]:
        return (info.plural, namespace if info.namespaced else None, name)

    def _not_found(self, info: Kind, name: str) -> ApiError:
        details: dict[str, Any] = {"name": name, "kind": info.plural}
        if info.group:
            details["group"] = info.group
        return ApiError(404, "NotFound", f'{info.qualified} "{name}" not found', details)

    def _read(self, info: Kind, namespace: str | None, name: str) -> dict[str, Any]:
        found = self._objects.get(self._key(info, namespace, name))
        if found is None:
            raise self._not_found(info, name)
        return copy.deepcopy(found)

    def _list(self, info: Kind, namespace: str | None, selector: str) -> dict[str, Any]:
        terms = _selector(selector)
        items = []
        for (plural, ns, _), obj in sorted(self._objects.items(), key=lambda kv: (kv[0][1] or "", kv[0][2])):
            if plural != info.plural or (namespace is not None and ns != namespace):
                continue
            if _matches(obj["metadata"].get("labels") or {}, terms):
                item = copy.deepcopy(obj)
                item.pop("kind", None)
                item.pop("apiVersion", None)
                items.append(item)
        return {
            "kind": f"{info.kind}List",
            "apiVersion": info.api_version,
            "metadata": {"resourceVersion": str(self._rv)},
            "items": items,
        }

    def _now(self) -> str:
        self._clock += timedelta(seconds=1)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _check_namespace(self, info: Kind, namespace: str | None) -> None:
        if info.namespaced and ("namespaces", None, namespace or "") not in self._objects:
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )

    def _check_identity(self, info: Kind, namespace: str | None, name: str, body: Mapping[str, Any]) -> None:
        if body.get("apiVersion") != info.api_version or body.get("kind") != info.kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({body.get('apiVersion')}) and kind "
                f"({body.get('kind')}) do not match the expected {info.api_version} {info.kind}",
            )
        metadata = body.get("metadata") or {}
        if metadata.get("name") != name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({metadata.get('name')}) does not match the name on the URL "
                f"({name})",
            )
        if info.namespaced and metadata.get("namespace") not in (None, namespace):
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )

    def _invalid(self, info: Kind, name: str, field: str, reason: str, detail: str) -> ApiError:
        return ApiError(
            422,
            "Invalid",
            f'{info.kind} "{name}" is invalid: {field}: {detail}',
            {
                "name": name,
                "kind": info.kind,
                "causes": [{"reason": reason, "message": detail, "field": field}],
            },
        )

    def _validate(
        self, info: Kind, name: str, new: Mapping[str, Any], live: Mapping[str, Any] | None
    ) -> None:
        if info.kind in ("ConfigMap", "Secret"):
            for key in new.get("data") or {}:
                if not _DATA_KEY.match(key):
                    raise self._invalid(
                        info,
                        name,
                        f"data[{key}]",
                        "FieldValueInvalid",
                        f'Invalid value: "{key}": a valid config key must consist of '
                        "alphanumeric characters, '-', '_' or '.'",
                    )
            if info.kind == "Secret":
                for key, value in (new.get("data") or {}).items():
                    try:
                        base64.b64decode(str(value), validate=True)
                    except (binascii.Error, ValueError):
                        raise ApiError(
                            400, "BadRequest", f"illegal base64 data in Secret data[{key}]"
                        ) from None
            if live is not None and live.get("immutable"):
                forbidden = "Forbidden: field is immutable when `immutable` is set"
                if not new.get("immutable"):
                    raise self._invalid(info, name, "immutable", "FieldValueForbidden", forbidden)
                if new.get("data") != live.get("data"):
                    raise self._invalid(info, name, "data", "FieldValueForbidden", forbidden)
        if info.kind in ("Deployment", "StatefulSet") and live is None:
            spec = new.get("spec") or {}
            causes = []
            if not spec.get("selector"):
                causes.append(
                    {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"}
                )
            if not ((spec.get("template") or {}).get("spec") or {}).get("containers"):
                causes.append(
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value",
                        "field": "spec.template.spec.containers",
                    }
                )
            if causes:
                fields = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
                raise ApiError(
                    422,
                    "Invalid",
                    f'{info.kind}.apps "{name}" is invalid: [{fields}]',
                    {"name": name, "group": "apps", "kind": info.kind, "causes": causes},
                )

    def _entries(self, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
        return copy.deepcopy((obj.get("metadata") or {}).get("managedFields") or [])

    def _commit(
        self,
        info: Kind,
        namespace: str | None,
        name: str,
        new: dict[str, Any],
        live: dict[str, Any] | None,
        entries: list[dict[str, Any]],
        dry_run: bool,
    ) -> dict[str, Any]:
        metadata = new.setdefault("metadata", {})
        metadata["managedFields"] = [e for e in entries if e.get("fieldsV1")]
        if not metadata["managedFields"]:
            metadata.pop("managedFields")
        if live is not None:
            if _comparable(new) == _comparable(live):
                return copy.deepcopy(live)  # a no-op writes nothing (no resourceVersion bump)
            if info.kind in WORKLOADS and new.get("spec") != live.get("spec"):
                metadata["generation"] = int(live["metadata"].get("generation", 1)) + 1
        else:
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = self._now()
            if info.kind in WORKLOADS:
                metadata["generation"] = 1
        if dry_run:
            return copy.deepcopy(new)
        self._rv += 1
        metadata["resourceVersion"] = str(self._rv)
        self._objects[self._key(info, namespace, name)] = new
        return copy.deepcopy(new)

    def _apply(
        self,
        info: Kind,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        manager: str,
        *,
        force: bool,
        dry_run: bool,
    ) -> tuple[int, dict[str, Any]]:
        self._check_identity(info, namespace, name, body)
        self._check_namespace(info, namespace)
        live = self._objects.get(self._key(info, namespace, name))
        applied = _owned_leaves(body)
        entries = self._entries(live) if live else []
        mine = next((e for e in entries if e["manager"] == manager and e["operation"] == "Apply"), None)
        conflicts: list[tuple[dict[str, Any], Path_]] = []
        for entry in entries:
            if entry is mine or (entry["manager"] == manager and entry["operation"] == "Apply"):
                continue
            for path in sorted(_paths_of(entry.get("fieldsV1") or {})):
                if path in applied and _get(live, path) != applied[path]:
                    conflicts.append((entry, path))
        if conflicts and not force:
            raise self._conflict(conflicts)
        new = (
            copy.deepcopy(live)
            if live is not None
            else {
                "apiVersion": info.api_version,
                "kind": info.kind,
                "metadata": {"name": name, **({"namespace": namespace} if info.namespaced else {})},
            }
        )
        previous = _paths_of(mine.get("fieldsV1") or {}) if mine else set()
        others = set().union(*(_paths_of(e.get("fieldsV1") or {}) for e in entries if e is not mine))
        for path in previous - set(applied) - others:
            _delete(new, path)
        for path, value in applied.items():
            _set(new, path, value)
        taken = {path for _, path in conflicts}
        kept = []
        for entry in entries:
            if entry is mine:
                continue
            paths = _paths_of(entry.get("fieldsV1") or {}) - taken
            kept.append({**entry, "fieldsV1": _fields_v1(paths)} if paths else {**entry, "fieldsV1": {}})
        unchanged = mine is not None and _paths_of(mine.get("fieldsV1") or {}) == set(applied)
        own = {
            "manager": manager,
            "operation": "Apply",
            "apiVersion": info.api_version,
            "time": mine["time"] if unchanged and mine else self._now(),
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields_v1(set(applied)),
        }
        self._validate(info, name, new, live)
        result = self._commit(info, namespace, name, new, live, [own, *kept], dry_run)
        return (201 if live is None else 200), result

    def _conflict(self, conflicts: list[tuple[dict[str, Any], Path_]]) -> ApiError:
        def who(entry: Mapping[str, Any]) -> str:
            if entry["operation"] == "Update":
                return f'"{entry["manager"]}" using {entry["apiVersion"]}'
            return f'"{entry["manager"]}"'

        def dotted(path: Path_) -> str:
            return "".join(f".{part}" for part in path)

        causes = [
            {"reason": "FieldManagerConflict", "message": f"conflict with {who(e)}", "field": dotted(p)}
            for e, p in conflicts
        ]
        if len(conflicts) == 1:
            entry, path = conflicts[0]
            message = f"Apply failed with 1 conflict: conflict with {who(entry)}: {dotted(path)}"
        else:
            by_manager: dict[str, list[str]] = {}
            for entry, path in conflicts:
                by_manager.setdefault(who(entry), []).append(dotted(path))
            lines = []
            for manager in sorted(by_manager):
                lines.append(f"conflicts with {manager}:")
                lines.extend(f"- {p}" for p in by_manager[manager])
            message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
        return ApiError(409, "Conflict", message, {"causes": causes})

    def _update(
        self,
        info: Kind,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
        manager: str,
        *,
        dry_run: bool,
    ) -> dict[str, Any]:
        live = self._objects.get(self._key(info, namespace, name))
        if live is None:
            raise self._not_found(info, name)
        new = _merge_patch(copy.deepcopy(live), dict(patch))
        return self._write(info, namespace, name, new, live, manager, dry_run=dry_run)

    def _write(
        self,
        info: Kind,
        namespace: str | None,
        name: str,
        new: dict[str, Any],
        live: dict[str, Any] | None,
        manager: str,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """An Update operation: ``manager`` takes the fields whose value it changed."""
        if live is None:
            self._check_namespace(info, namespace)
        before = _owned_leaves(live) if live else {}
        after = _owned_leaves(new)
        changed = {p for p in set(before) | set(after) if before.get(p, _MISSING) != after.get(p, _MISSING)}
        entries = self._entries(live) if live else []
        kept = []
        mine = None
        for entry in entries:
            if entry["manager"] == manager and entry["operation"] == "Update":
                mine = entry
                continue
            paths = _paths_of(entry.get("fieldsV1") or {}) - changed
            kept.append({**entry, "fieldsV1": _fields_v1(paths)})
        owned = (_paths_of(mine.get("fieldsV1") or {}) if mine else set()) | {
            p for p in changed if p in after
        }
        owned &= set(after)
        own = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": info.api_version,
            "time": self._now(),
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields_v1(owned),
        }
        self._validate(info, name, new, live)
        return self._commit(info, namespace, name, new, live, [*kept, own], dry_run)

    def _remove(
        self, info: Kind, namespace: str | None, name: str, options: Mapping[str, Any], dry_run: bool
    ) -> dict[str, Any]:
        key = self._key(info, namespace, name)
        live = self._objects.get(key)
        if live is None:
            raise self._not_found(info, name)
        wanted_uid = (options.get("preconditions") or {}).get("uid")
        actual_uid = live["metadata"]["uid"]
        if wanted_uid and wanted_uid != actual_uid:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {info.qualified} "{name}": Precondition failed: '
                f"UID in precondition: {wanted_uid}, UID in object meta: {actual_uid}",
                {"name": name, "kind": info.plural},
            )
        if not dry_run:
            del self._objects[key]
            self._rv += 1
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "kind": info.plural, "uid": actual_uid},
        }


def deployment(
    name: str, namespace: str, *, config_refs: tuple[str, ...] = (), kind: str = "Deployment"
) -> dict[str, Any]:
    """A minimal valid workload whose pods read ``config_refs`` (ConfigMap names) via envFrom."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "example/app:1",
                            "envFrom": [{"configMapRef": {"name": ref}} for ref in config_refs],
                        }
                    ]
                },
            },
        },
    }


def replicaset(
    name: str, namespace: str, *, config_refs: tuple[str, ...], replicas: int = 1
) -> dict[str, Any]:
    """A ReplicaSet (as a Deployment controller leaves them) whose pods use ``config_refs``."""
    manifest = deployment(name, namespace, config_refs=config_refs)
    manifest["kind"] = "ReplicaSet"
    manifest["spec"]["replicas"] = replicas
    return manifest
