"""``InMemoryTarget``: the twin of a cluster, for tests of planning, pruning and rollouts.

It holds manifests in a dict and follows the same rules as the Kubernetes target (one
namespace, labelled scope, workloads with a rollout checksum, references that keep hashed
objects from being pruned), so the delivery logic is tested without any server.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from ._plan import PlanRules, compute_plan
from ._protocol import (
    ApplyResult,
    DesiredState,
    LiveState,
    Plan,
    Scope,
    TargetOptions,
    WorkloadState,
)
from ._state import state_of


class InMemoryTarget:
    """A :class:`~tierconf.targets.DeployTarget` held in memory.

    Args:
        scope: whose objects it holds.
        options: prune, dry_run, create_namespace and keep_hashed are honoured.
        objects: manifests already live (any scope).
        workloads: ``Kind/name`` of workloads that exist, with their current checksum.
        references: ``Kind/name`` of config objects -> what still uses them.
        namespace_exists: whether the scope's namespace exists.
    """

    def __init__(
        self,
        scope: Scope,
        options: TargetOptions | None = None,
        *,
        objects: Iterable[Mapping[str, Any]] = (),
        workloads: Mapping[str, str | None] | None = None,
        references: Mapping[str, tuple[str, ...]] | None = None,
        namespace_exists: bool = True,
    ) -> None:
        self.scope = scope
        self.options = options or TargetOptions()
        self._clock = 0
        self._objects: dict[str, dict[str, Any]] = {}
        for manifest in objects:
            self._store(manifest)
        self.workloads: dict[str, str | None] = dict(workloads or {})
        self.references: dict[str, tuple[str, ...]] = dict(references or {})
        self.namespace_exists = namespace_exists
        self.rollouts: dict[str, int] = dict.fromkeys(self.workloads, 0)
        self.applied: list[Plan] = []

    @property
    def name(self) -> str:
        """``memory://``."""
        return "memory://"

    def _store(self, manifest: Mapping[str, Any]) -> None:
        copied = copy.deepcopy(dict(manifest))
        ref = f"{copied['kind']}/{copied['metadata']['name']}"
        previous = self._objects.get(ref)
        if previous is not None:
            created = previous["metadata"]["creationTimestamp"]
        else:
            self._clock += 1
            created = f"2000-01-01T00:{self._clock // 60:02d}:{self._clock % 60:02d}Z"
        copied.setdefault("metadata", {})["creationTimestamp"] = created
        self._objects[ref] = copied

    def manifests(self) -> dict[str, dict[str, Any]]:
        """``Kind/name`` -> a copy of each live manifest (Secret values included)."""
        return copy.deepcopy(self._objects)

    def edit(self, ref: str, key: str, value: str | None) -> None:
        """Change (or with ``None`` remove) one data KEY live, as someone's kubectl edit would."""
        data = self._objects[ref].setdefault("data", {})
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value

    def read_live(self) -> LiveState:
        """The scope's objects (by label), its namespace, workloads and references."""
        states = tuple(
            state_of(m) for m in self._objects.values() if self.scope.owns(m["metadata"].get("labels") or {})
        )
        return self._live(states)

    def _live(self, states: tuple[Any, ...]) -> LiveState:
        return LiveState(
            objects=states,
            namespace_exists=self.namespace_exists,
            workloads={ref: WorkloadState(ref, checksum) for ref, checksum in self.workloads.items()},
            referenced=dict(self.references),
        )

    def plan(self, desired: DesiredState) -> Plan:
        """Plan against the held objects (desired names included even when unlabelled)."""
        refs = {f"{m['kind']}/{m['metadata']['name']}" for m in desired.manifests}
        states = tuple(
            state_of(m)
            for ref, m in self._objects.items()
            if ref in refs or self.scope.owns(m["metadata"].get("labels") or {})
        )
        rules = PlanRules(
            prune=self.options.prune,
            keep_hashed=self.options.keep_hashed,
            manage_namespace=True,
            create_namespace=self.options.create_namespace,
            rollout=True,
        )
        return compute_plan(self.name, desired, self._live(states), rules)

    def apply(self, plan: Plan) -> ApplyResult:
        """Apply ``plan`` in order; with ``dry_run`` only check it."""
        plan.check_applicable()
        created: list[str] = []
        updated: list[str] = []
        deleted: list[str] = []
        rolled: list[str] = []
        for obj in plan.objects:
            if obj.action == "noop":
                continue
            bucket = {"create": created, "update": updated, "delete": deleted}[obj.action]
            bucket.append(obj.ref)
            if self.options.dry_run:
                continue
            if obj.kind == "Namespace":
                self.namespace_exists = True
            elif obj.ref in self.workloads:
                self.workloads[obj.ref] = plan.rollout_checksum
                self.rollouts[obj.ref] = self.rollouts.get(obj.ref, 0) + 1
            elif obj.action == "delete":
                self._objects.pop(obj.ref, None)
            else:
                self._store(plan.desired.manifest(obj.ref))
        rolled = [ref for ref in updated if ref in self.workloads]
        if not self.options.dry_run:
            self.applied.append(plan)
        return ApplyResult(
            target=self.name,
            dry_run=self.options.dry_run,
            created=tuple(created),
            updated=tuple(ref for ref in updated if ref not in rolled),
            deleted=tuple(deleted),
            rolled=tuple(rolled),
        )

    def close(self) -> None:
        """Nothing to release."""
