"""``EtcdTarget``: ``deploy --target etcd://...`` publishes a scope's KEYs for live readers.

Layout (per app, tier and tenant, see :mod:`tierconf.etcd._keys`)::

    .../live/<tier>/<tenant|_>/keys/<KEY>           the value, raw UTF-8 (as in a volume)
    .../live/<tier>/<tenant|_>/fingerprints/<KEY>   a secret's fingerprint, value unpublished
    .../live/<tier>/<tenant|_>/manifest             the release: revision, checksums, KEYs

Atomicity: a publish sends the changed KEYs, the deletes of KEYs no longer rendered and
the manifest in ONE transaction guarded by two compares: the manifest is the one read
(no other publisher got in between) and no key of the scope changed since the read. The
manifest therefore shares its ``mod_revision`` with every KEY it changed, and a reader
that reads the prefix at that revision gets exactly the release (see
:mod:`tierconf.etcd._manifest`). etcd caps a transaction at 128 operations
(``--max-txn-ops``) and 1.5 MiB: a change larger than that (a first publish of a very
large tier) is written in several transactions, the manifest in the last one; readers
still only apply a release at its manifest's revision, so they never see part of one.

Secrets: values are published only with ``publish_secrets`` and a connection that is
TLS or authenticated (the cluster has auth on); otherwise only their fingerprints are,
and a reader gets no value for them.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tierconf.errors import DeployError, UsageError
from tierconf.secrets._fingerprint import fingerprint
from tierconf.store._model import utc_timestamp
from tierconf.targets._plan import PlanRules, compute_plan
from tierconf.targets._protocol import (
    ApplyResult,
    DesiredState,
    LiveState,
    ObjectState,
    Plan,
    Scope,
    TargetOptions,
)
from tierconf.targets._state import state_of

from ._client import (
    EtcdClient,
    EtcdRequestError,
    Json,
    KeyValue,
    compare_mod,
    delete,
    get,
    prefix_end,
    put,
)
from ._config import DEFAULT_PREFIX, EtcdConfig
from ._keys import AppKeys, LiveKeys
from ._manifest import Manifest, ManifestError, data_checksum

MAX_TXN_OPS = 120
"""Operations per transaction (etcd's default ``--max-txn-ops`` is 128)."""
MAX_TXN_BYTES = 1024 * 1024
"""Payload per transaction (etcd's default ``--max-request-bytes`` is 1.5 MiB)."""
_ATTEMPTS = 20
UNLISTED = "ConfigMap/<keys-not-in-the-manifest>"
NOT_PUBLISHED_NOTE = (
    "secret values were not published, only their fingerprints: pass --publish-secrets "
    "with an etcds:// (TLS) URL or a cluster with auth on"
)


@dataclass(frozen=True)
class Published:
    """A consistent read of one scope: what is live at etcd revision ``revision``."""

    revision: int
    manifest: Manifest | None
    manifest_kv: KeyValue | None
    values: Mapping[str, bytes]
    fingerprints: Mapping[str, str]
    objects: bytes = b"[]"


@dataclass(frozen=True)
class Release:
    """What a desired state publishes: KEY values, secret fingerprints, and the objects."""

    values: Mapping[str, bytes]
    fingerprints: Mapping[str, str]
    secret_keys: tuple[str, ...]
    objects: tuple[Mapping[str, Any], ...]


def read_published(client: EtcdClient, keys: LiveKeys, *, revision: int | None = None) -> Published:
    """Read one scope (manifest, values, fingerprints) at one etcd revision.

    Raises:
        EtcdRequestError: etcd cannot be read (``CompactedError`` for a compacted revision).
        ManifestError: the manifest record is damaged.
    """
    result = client.range_all(keys.prefix, prefix_end(keys.prefix), revision=revision)
    values: dict[str, bytes] = {}
    fingerprints: dict[str, str] = {}
    manifest_kv: KeyValue | None = None
    objects = b"[]"
    for kv in result.kvs:
        kind_name = keys.classify(kv.key)
        if kind_name is None:
            continue
        kind, name = kind_name
        if kind == "manifest":
            manifest_kv = kv
        elif kind == "objects":
            objects = kv.value
        elif kind == "keys":
            values[name] = kv.value
        else:
            fingerprints[name] = kv.value.decode("utf-8", "replace")
    manifest = None
    if manifest_kv is not None:
        manifest = Manifest.from_json(manifest_kv.value, keys.base + "manifest")
    return Published(result.revision, manifest, manifest_kv, values, fingerprints, objects)


def release_of(desired: DesiredState, *, publish_secrets: bool) -> Release:
    """The KEYs a desired state publishes (Secret values decoded, or fingerprinted)."""
    values: dict[str, bytes] = {}
    fingerprints: dict[str, str] = {}
    secret_keys: list[str] = []
    objects: list[Mapping[str, Any]] = []
    for manifest in desired.manifests:
        kind = str(manifest.get("kind"))
        data: Mapping[str, Any] = manifest.get("data") or {}
        skeleton = {name: value for name, value in manifest.items() if name != "data"}
        objects.append({"manifest": skeleton, "keys": sorted(str(k) for k in data)})
        for key, value in data.items():
            if kind == "Secret":
                secret_keys.append(str(key))
                plaintext = _decode_secret(str(key), value)
                if publish_secrets:
                    values[str(key)] = plaintext.encode("utf-8")
                else:
                    fingerprints[str(key)] = fingerprint(plaintext)
            elif kind == "ConfigMap":
                values[str(key)] = str(value).encode("utf-8")
    return Release(values, fingerprints, tuple(sorted(secret_keys)), tuple(objects))


def _decode_secret(key: str, value: Any) -> str:
    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise DeployError(f"Secret KEY {key} does not hold base64 UTF-8 text; re-render it") from exc


class EtcdTarget:
    """A :class:`~tierconf.targets.DeployTarget` publishing one scope under an etcd prefix.

    The scope's prefix belongs to tierconf: a publish deletes KEYs that are no longer
    rendered, whatever ``options.prune`` says (a live reader must not keep a stale KEY).

    Args:
        client: the connection (closed by :meth:`close`).
        scope: app, tier and tenant published (the namespace is recorded, not used).
        options: ``dry_run`` is honoured; Kubernetes-only options are ignored.
        publish_secrets: publish secret values (refused without TLS or auth).
    """

    def __init__(
        self,
        client: EtcdClient,
        scope: Scope,
        options: TargetOptions | None = None,
        *,
        publish_secrets: bool = False,
    ) -> None:
        self._client = client
        self.scope = scope
        self.options = options or TargetOptions()
        self.publish_secrets = publish_secrets
        self.keys = AppKeys(client.config.prefix, scope.app).live(scope.tier, scope.tenant)
        # The scope as this target last read or wrote it. A publish starts from it instead
        # of reading the prefix again; the transaction's compares catch any other writer
        # since, and a failed compare falls back to a fresh read.
        self._known: Published | None = None

    @property
    def name(self) -> str:
        """``etcd://HOST:PORT,...`` (plus ``?prefix=`` when not the default)."""
        prefix = self._client.config.prefix
        return self._client.name + (f"?prefix={prefix}" if prefix != DEFAULT_PREFIX else "")

    def read_live(self) -> LiveState:
        """The scope as published, one object per rendered ConfigMap/Secret (secrets as
        fingerprints); KEYs no manifest lists are grouped under :data:`UNLISTED`."""
        published = self._read()
        return _live_state(published)

    def plan(self, desired: DesiredState) -> Plan:
        """Compare with what is published; a refused secret publish is a blocker."""
        live = self.read_live()
        rules = PlanRules(prune=True, prune_unlabelled=True)
        plan = compute_plan(self.name, desired, live, rules)
        has_secrets = any(m.get("kind") == "Secret" for m in desired.manifests)
        if self.publish_secrets and not self._may_publish_secrets():
            blocker = (
                f"--publish-secrets refused: the connection to {self._client.name} is neither TLS nor "
                "authenticated, so secret values would travel and rest in clear; use etcds:// "
                "(?ca=&cert=&key=) or a user with ?user=&password_env=, or drop --publish-secrets"
            )
            plan = replace(plan, blockers=(*plan.blockers, blocker))
        elif has_secrets and not self.publish_secrets:
            plan = replace(plan, warnings=(*plan.warnings, NOT_PUBLISHED_NOTE))
        return plan

    def apply(self, plan: Plan) -> ApplyResult:
        """Publish the plan's desired state in one transaction (see the module docstring).

        Raises:
            DeployError: a blocker, etcd unreachable, a newer revision already published,
                or other publishers kept winning the race.
        """
        plan.check_applicable()
        refs = _result_refs(plan)
        if self.options.dry_run:
            return ApplyResult(self.name, True, *refs)
        release = release_of(plan.desired, publish_secrets=self.publish_secrets)
        publish_id = uuid.uuid4().hex
        for attempt in range(_ATTEMPTS):
            known = self._known if attempt == 0 else None
            published = known if known is not None else self._read()
            current = published.manifest
            if (
                current is not None
                and current.publish_id == publish_id
                and not _diff_ops(self.keys, published, release)
            ):
                return self._result(refs, current, release)  # landed, its answer was lost
            desired = plan.desired
            if _newer(current, desired.revision):
                if published is known:
                    continue  # a refusal is decided on a fresh read, never on a remembered one
                raise DeployError(
                    f"{self.name} already publishes revision {current.revision} of "  # type: ignore[union-attr]
                    f"{self.scope.describe()}, newer than revision {desired.revision}; deploy the "
                    "newest revision (a rollback records a new one)"
                )
            manifest = Manifest(
                revision=desired.revision,
                checksum=desired.checksum,
                data_checksum=data_checksum(release.values, release.fingerprints),
                keys=tuple(sorted(release.values)),
                fingerprints=tuple(sorted(release.fingerprints)),
                secret_keys=release.secret_keys,
                published_at=utc_timestamp(),
                message=desired.message,
                publish_id=publish_id,
            )
            ops = _diff_ops(self.keys, published, release)
            objects = json.dumps(list(release.objects), sort_keys=True, separators=(",", ":")).encode()
            if objects != published.objects:
                ops.append(put(self.keys.objects, objects))
            if current is not None and not ops and _same_release(current, manifest):
                if published is known:
                    continue  # "already published" is decided on a fresh read too
                return self._result(refs, current, release, unchanged=True)
            try:
                revision = self._send(published, ops, manifest, release)
            except EtcdRequestError as exc:
                self._known = None
                if not exc.retriable:
                    raise self._error(exc) from exc
                # The answer was lost: the next read tells whether the publish landed.
                continue
            if revision is not None:
                self._known = _published_by(self.keys, revision, manifest, release, objects)
                return self._result(refs, manifest, release)
            self._known = None
        raise DeployError(
            f"publishing {self.scope.describe()} to {self.name}: other publishers kept changing the "
            f"prefix for {_ATTEMPTS} attempts; retry"
        )

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

    # -- internals -------------------------------------------------------------------------

    def _send(
        self, published: Published, ops: list[Json], manifest: Manifest, release: Release
    ) -> int | None:
        """Write the difference and the manifest: the etcd revision of the manifest, or
        None when it must be done again from a fresh read (a compare failed, or KEYs of the
        scope were deleted meanwhile).

        The compares catch any key written since ``published`` was read, but not a key
        deleted since (etcd compares only see keys that exist): the last transaction
        therefore also counts the scope's values and fingerprints, and a count short of
        the release means a KEY vanished; the next attempt re-reads and puts it back, so a
        publish never ends on a manifest whose KEYs are not all there.
        """
        ops = [*ops, put(self.keys.manifest, manifest.to_json())]
        mod = published.manifest_kv.mod_revision if published.manifest_kv is not None else 0
        since = published.revision
        for chunk, last in _chunks(ops):
            compares = [
                compare_mod(self.keys.manifest, "EQUAL", mod),
                compare_mod(self.keys.prefix, "LESS", since + 1, prefix_end(self.keys.prefix)),
            ]
            counts = [
                get(self.keys.keys, prefix_end(self.keys.keys), count_only=True),
                get(self.keys.fingerprints, prefix_end(self.keys.fingerprints), count_only=True),
            ]
            result = self._client.txn(compares, [*chunk, *counts] if last else chunk)
            if not result.succeeded:
                return None
            if last:
                values, fingerprints = (r.count for r in result.ranges)
                if (values, fingerprints) != (len(release.values), len(release.fingerprints)):
                    return None
                return result.revision
            since = result.revision  # our own chunk: later chunks compare against it
        raise AssertionError("unreachable: _chunks always yields a last chunk")

    def _read(self) -> Published:
        try:
            published = read_published(self._client, self.keys)
        except EtcdRequestError as exc:
            raise self._error(exc) from exc
        except ManifestError as exc:
            raise DeployError(str(exc)) from exc
        self._known = published
        return published

    def _may_publish_secrets(self) -> bool:
        try:
            return self._client.secure or self._client.authenticated
        except EtcdRequestError as exc:
            raise self._error(exc) from exc

    def _result(
        self,
        refs: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
        manifest: Manifest,
        release: Release,
        *,
        unchanged: bool = False,
    ) -> ApplyResult:
        what = "already published" if unchanged else "published"
        notes = [f"{what} revision {manifest.label} of {self.scope.describe()} ({len(manifest.keys)} KEYs)"]
        if release.fingerprints:
            notes.append(NOT_PUBLISHED_NOTE)
        return ApplyResult(self.name, False, *refs, notes=tuple(notes))

    def _error(self, exc: EtcdRequestError) -> DeployError:
        return DeployError(
            f"publishing {self.scope.describe()} to {self.name} failed: {exc}; check that a quorum "
            "of members is reachable and the credentials are right"
        )


def _published_by(
    keys: LiveKeys, revision: int, manifest: Manifest, release: Release, objects: bytes
) -> Published:
    """The scope right after a successful publish at etcd ``revision`` (what a read would give)."""
    manifest_kv = KeyValue(keys.manifest, manifest.to_json(), revision, revision, 0)
    values, fingerprints = dict(release.values), dict(release.fingerprints)
    return Published(revision, manifest, manifest_kv, values, fingerprints, objects)


def _newer(current: Manifest | None, revision: int | None) -> bool:
    """Whether ``current`` publishes a later revision than ``revision``."""
    if current is None or current.revision is None or revision is None:
        return False
    return current.revision > revision


def _same_release(current: Manifest, new: Manifest) -> bool:
    return (current.revision, current.checksum, current.data_checksum, current.keys) == (
        new.revision,
        new.checksum,
        new.data_checksum,
        new.keys,
    )


def _diff_ops(keys: LiveKeys, published: Published, release: Release) -> list[Json]:
    ops: list[Json] = []
    for name, value in sorted(release.values.items()):
        if published.values.get(name) != value:
            ops.append(put(keys.key(name), value))
    for name in sorted(set(published.values) - set(release.values)):
        ops.append(delete(keys.key(name)))
    for name, digest in sorted(release.fingerprints.items()):
        if published.fingerprints.get(name) != digest:
            ops.append(put(keys.fingerprint(name), digest.encode("utf-8")))
    for name in sorted(set(published.fingerprints) - set(release.fingerprints)):
        ops.append(delete(keys.fingerprint(name)))
    return ops


def _chunks(ops: Sequence[Json]) -> list[tuple[list[Json], bool]]:
    """Split operations into transactions etcd accepts; the last one holds the manifest."""
    chunks: list[list[Json]] = [[]]
    size = 0
    for op in ops:
        weight = sum(len(str(v)) for body in op.values() for v in body.values())
        if chunks[-1] and (len(chunks[-1]) >= MAX_TXN_OPS or size + weight > MAX_TXN_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(op)
        size += weight
    return [(chunk, i == len(chunks) - 1) for i, chunk in enumerate(chunks)]


def _result_refs(plan: Plan) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    def refs(action: str) -> tuple[str, ...]:
        return tuple(obj.ref for obj in plan.objects if obj.action == action)

    return refs("create"), refs("update"), refs("delete")


def _live_state(published: Published) -> LiveState:
    """Rebuild per-object states from the manifest's skeletons and the published KEYs."""
    try:
        records: list[Mapping[str, Any]] = json.loads(published.objects)
    except ValueError:
        records = []  # damaged: every KEY shows as unlisted drift, and a publish rewrites it
    listed: set[str] = set()
    objects: list[ObjectState] = []
    for record in records:
        skeleton = dict(record.get("manifest") or {})
        kind = skeleton.get("kind")
        data: dict[str, str] = {}
        for key in record.get("keys") or ():
            listed.add(key)
            if kind == "Secret":
                found = published.fingerprints.get(key)
                if found is None and key in published.values:
                    found = fingerprint(published.values[key].decode("utf-8", "replace"))
                if found is not None:
                    data[key] = found
            elif key in published.values:
                data[key] = published.values[key].decode("utf-8", "replace")
        if kind in ("ConfigMap", "Secret"):
            skeleton["data"] = data
        objects.append(state_of(skeleton, fingerprinted=True))
    strays = {
        key: value.decode("utf-8", "replace") for key, value in published.values.items() if key not in listed
    }
    if strays:
        kind, name = UNLISTED.split("/", 1)
        objects.append(ObjectState("v1", kind, name, None, strays, {}))
    return LiveState(objects=tuple(objects))


def open_etcd_target(
    url: str, scope: Scope, options: TargetOptions | None = None, *, publish_secrets: bool = False
) -> EtcdTarget:
    """The target an ``etcd://`` / ``etcds://`` URL names, for ``scope``.

    Raises:
        UsageError: the URL is malformed.
    """
    config = EtcdConfig.from_url(url)
    if config.app is not None and config.app != scope.app:
        raise UsageError(
            f"--target {config.name}?app={config.app} names app {config.app!r} but the project is "
            f"{scope.app!r}; drop ?app= (deploy publishes under the project's app)"
        )
    return EtcdTarget(EtcdClient(config), scope, options, publish_secrets=publish_secrets)
