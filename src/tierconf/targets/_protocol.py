"""The ``DeployTarget`` boundary and the frozen data that crosses it.

A target turns a :class:`DesiredState` into a :class:`Plan` (reading the live state, never
changing it), applies a plan, and reads what it holds::

    target.plan(desired)  -> Plan          per object: create / update / delete / noop,
                                           per KEY: added / removed / changed
    target.apply(plan)    -> ApplyResult   in apply order; nothing with --dry-run
    target.read_live()    -> LiveState     the scope's objects as the target holds them

Everything here is data: secret values never appear in a :class:`Plan` or a
:class:`LiveState` (they carry fingerprints), and the plaintext a plan must apply lives
in :attr:`DesiredState.manifests`, kept out of ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from tierconf.errors import DeployError
from tierconf.render._manifests import LABEL_TENANT, LABEL_TIER, MANAGED_BY

Action = Literal["create", "update", "delete", "noop"]
Change = Literal["added", "removed", "changed"]

FIELD_MANAGER = "tierconf"
"""The server-side apply field manager tierconf writes as."""

LABEL_NAME = "app.kubernetes.io/name"
ROLLOUT_ANNOTATION = "tierconf.io/config-checksum"
"""Pod-template annotation whose change rolls the workloads that consume the config."""
ROLLOUT_FIELD = f"spec.template.metadata.annotations.{ROLLOUT_ANNOTATION}"


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose objects a target holds: one app, tier and optional tenant, in one namespace."""

    app: str
    tier: str
    tenant: str | None
    namespace: str

    def labels(self) -> dict[str, str]:
        """The labels every object of this scope carries (render puts them there)."""
        labels = {MANAGED_BY: "tierconf", LABEL_NAME: self.app, LABEL_TIER: self.tier}
        if self.tenant:
            labels[LABEL_TENANT] = self.tenant
        return labels

    def selector(self) -> str:
        """A Kubernetes label selector matching exactly this scope's objects."""
        terms = [f"{key}={value}" for key, value in self.labels().items()]
        if not self.tenant:
            terms.append(f"!{LABEL_TENANT}")
        return ",".join(terms)

    def owns(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with ``labels`` belongs to this scope (so prune may delete it)."""
        if any(labels.get(key) != value for key, value in self.labels().items()):
            return False
        return bool(self.tenant) or LABEL_TENANT not in labels

    def describe(self) -> str:
        """``development`` or ``development (tenant acme)``."""
        return self.tier + (f" (tenant {self.tenant})" if self.tenant else "")


@dataclass(frozen=True)
class DesiredState:
    """What should be live: complete manifests of one scope, and the workloads to roll.

    ``manifests`` hold Secret values (base64) unless ``fingerprinted`` (a stored revision,
    whose Secrets carry fingerprints): such a state can be planned and compared but not
    applied. ``workloads`` (``Deployment/name``) get the rollout checksum annotation.
    """

    scope: Scope
    manifests: tuple[Mapping[str, Any], ...] = field(repr=False)
    fingerprinted: bool = False
    workloads: tuple[str, ...] = ()
    checksum: str = ""
    revision: int | None = None
    message: str = ""

    def manifest(self, ref: str) -> Mapping[str, Any]:
        """The manifest of ``Kind/name``.

        Raises:
            KeyError: no such object is desired.
        """
        for manifest in self.manifests:
            if f"{manifest['kind']}/{manifest['metadata']['name']}" == ref:
                return manifest
        raise KeyError(ref)


@dataclass(frozen=True, slots=True)
class ObjectState:
    """One object reduced to what planning compares.

    ``data`` maps each KEY (ConfigMap/Secret data, ExternalSecret secretKey) to a
    comparable value: Secret values are fingerprints, never plaintext. ``meta`` maps
    other fields by dotted path (``metadata.labels.x``, ``type``, ``immutable``); only the
    ones the desired side sets are compared, so fields other tools add are not drift.
    ``managers`` names, per KEY or path, the field manager that last wrote it (live
    objects of a target that tracks it).
    """

    api_version: str
    kind: str
    name: str
    namespace: str | None
    data: Mapping[str, str]
    meta: Mapping[str, str]
    secret: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    managers: Mapping[str, str] = field(default_factory=dict)
    immutable: bool = False
    created: str | None = None
    uid: str | None = None

    @property
    def ref(self) -> str:
        """``Kind/name``."""
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class WorkloadState:
    """A live Deployment/StatefulSet: its rollout checksum and what its pods reference."""

    ref: str
    checksum: str | None
    manager: str | None = None
    references: frozenset[str] = frozenset()
    """``ConfigMap/name`` and ``Secret/name`` its pod template uses."""


@dataclass(frozen=True)
class LiveState:
    """What a target holds for one scope.

    ``referenced`` maps ``Kind/name`` of config objects to what still uses them (live
    ReplicaSets, workload pod templates): prune keeps those.
    """

    objects: tuple[ObjectState, ...] = ()
    namespace_exists: bool = True
    workloads: Mapping[str, WorkloadState] = field(default_factory=dict)
    referenced: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def get(self, ref: str) -> ObjectState | None:
        """The live object ``Kind/name``, or None."""
        return next((obj for obj in self.objects if obj.ref == ref), None)


@dataclass(frozen=True, slots=True)
class KeyChange:
    """One KEY (or field path) that a deploy changes, from ``before`` (live) to ``after``.

    For secrets both are fingerprints; :func:`tierconf.targets.shown` masks them.
    ``manager`` is the field manager that last wrote the live value, when known.
    """

    key: str
    change: Change
    before: str | None
    after: str | None
    secret: bool = False
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectChange:
    """What a deploy does to one object, and why (``reason``, for deletes)."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    action: Action
    changes: tuple[KeyChange, ...] = ()
    reason: str = ""
    uid: str | None = None

    @property
    def ref(self) -> str:
        """``Kind/name``."""
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class Retained:
    """A live object prune would have deleted but keeps, and why."""

    ref: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """What applying ``desired`` to a target would do, in apply order.

    ``objects`` lists creates, updates and no-ops (Namespace, Secrets, ConfigMaps, then
    workload patches), then deletes in reverse order. ``blockers`` stop :meth:`apply`
    (a missing namespace, a refused --commit); ``warnings`` do not.
    """

    target: str
    scope: Scope
    objects: tuple[ObjectChange, ...]
    desired: DesiredState = field(repr=False, compare=False)
    retained: tuple[Retained, ...] = ()
    warnings: tuple[str, ...] = ()
    blockers: tuple[str, ...] = ()
    rollout_checksum: str | None = None

    @property
    def changed(self) -> bool:
        """Whether applying would change anything."""
        return any(obj.action != "noop" for obj in self.objects)

    def count(self, action: Action) -> int:
        """How many objects get ``action``."""
        return sum(1 for obj in self.objects if obj.action == action)

    def summary(self) -> str:
        """``2 to create, 1 to update, 0 to delete, 5 unchanged``."""
        return (
            f"{self.count('create')} to create, {self.count('update')} to update, "
            f"{self.count('delete')} to delete, {self.count('noop')} unchanged"
        )

    def for_revision(self, revision: int, message: str = "") -> Plan:
        """The same plan, recording which revision it delivers (for commits and markers)."""
        return replace(self, desired=replace(self.desired, revision=revision, message=message))

    def check_applicable(self) -> None:
        """Raise unless this plan can be applied.

        Raises:
            DeployError: a blocker, or a plan built from fingerprinted secrets.
        """
        if self.blockers:
            raise DeployError(self.blockers[0])
        if self.desired.fingerprinted:
            raise DeployError(
                "this plan compares a stored revision (secrets fingerprinted) and cannot be "
                "applied; deploy renders the configuration with its secret values"
            )


@dataclass(frozen=True)
class ApplyResult:
    """What :meth:`DeployTarget.apply` did (or, with ``dry_run``, validated)."""

    target: str
    dry_run: bool
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    rolled: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """``3 created, 1 updated, 0 deleted, 2 workloads rolled``."""
        text = f"{len(self.created)} created, {len(self.updated)} updated, {len(self.deleted)} deleted"
        if self.rolled:
            text += f", {len(self.rolled)} workload{'s' if len(self.rolled) > 1 else ''} rolled"
        return text + (" (dry run, nothing changed)" if self.dry_run else "")


@dataclass(frozen=True)
class TargetOptions:
    """How a target plans and applies (one frozen object, not a dozen arguments).

    ``keep_hashed`` is how many hash-suffixed versions of each immutable object prune
    keeps, the desired one included (objects still referenced are kept regardless).
    """

    dry_run: bool = False
    prune: bool = False
    force_conflicts: bool = False
    create_namespace: bool = False
    commit: bool = False
    keep_hashed: int = 3
    field_manager: str = FIELD_MANAGER
    timeout: float = 30.0
    kubeconfig: Path | None = None
    context: str | None = None


class ApplyConflictError(DeployError):
    """Server-side apply refused: fields are owned by other field managers (HTTP 409)."""

    def __init__(self, message: str, *, managers: tuple[str, ...], fields: tuple[str, ...]) -> None:
        super().__init__(message)
        self.managers = managers
        self.fields = fields


class DeployTarget(Protocol):
    """Where a scope's configuration is delivered: a directory, a cluster, a twin."""

    @property
    def name(self) -> str:
        """How the target is named in plans, audit entries and drift reports."""
        ...

    def plan(self, desired: DesiredState) -> Plan:
        """Compare ``desired`` with the live state; read-only.

        Raises:
            DeployError: the target cannot be read.
        """
        ...

    def apply(self, plan: Plan) -> ApplyResult:
        """Make the live state match ``plan`` in apply order (validate only with dry_run).

        Raises:
            DeployError: a blocker, a refusal (conflict, invalid object) or the target is
                unreachable; the message says how far the apply got.
        """
        ...

    def read_live(self) -> LiveState:
        """The objects this target holds for its scope (secrets fingerprinted).

        Raises:
            DeployError: the target cannot be read.
        """
        ...

    def close(self) -> None:
        """Release connections; closing twice is harmless."""
        ...
