"""Planning and drift: desired vs live, per object and per KEY. Pure.

Apply order is one table (:data:`APPLY_ORDER`): Namespace, then Secrets, then ConfigMaps,
then workload patches; deletes come last, in reverse order. Prune rules, in one place
(:func:`_prune`): only objects labelled as this scope's are candidates; an immutable
hash-suffixed object still referenced by a live ReplicaSet or workload is kept, and so
are the newest ``keep_hashed`` versions of each hashed object (the desired one counted).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tierconf.schema._secret_ref import MASK

from ._protocol import (
    ROLLOUT_FIELD,
    Action,
    Change,
    DesiredState,
    KeyChange,
    LiveState,
    ObjectChange,
    ObjectState,
    Plan,
    Retained,
    Scope,
)
from ._state import desired_states, hashed_base, rollout_checksum

APPLY_ORDER: Mapping[str, int] = {
    "Namespace": 0,
    "Secret": 1,
    "ExternalSecret": 1,
    "ConfigMap": 2,
    "Deployment": 3,
    "StatefulSet": 3,
}
"""Creates and updates run in this order; deletes in the reverse one."""


@dataclass(frozen=True)
class PlanRules:
    """What a target lets a plan do (a directory has no namespace and no workloads)."""

    prune: bool = False
    keep_hashed: int = 3
    manage_namespace: bool = False
    create_namespace: bool = False
    rollout: bool = False
    prune_unlabelled: bool = False
    """Also delete live objects without this scope's labels (a directory owned whole)."""


def diff_keys(live: ObjectState | None, desired: ObjectState | None) -> tuple[KeyChange, ...]:
    """Changes that turn ``live`` into ``desired``: data KEYs both ways, other fields only
    where ``desired`` sets them (fields other tools or defaults add are not ours)."""
    before_data = dict(live.data) if live else {}
    after_data = dict(desired.data) if desired else {}
    managers = dict(live.managers) if live else {}
    secret = bool((live and live.secret) or (desired and desired.secret))
    changes: list[KeyChange] = []
    for key in sorted({*before_data, *after_data}):
        changes.extend(_key_change(key, before_data.get(key), after_data.get(key), secret, managers))
    if live is not None and desired is not None:
        for key in sorted(desired.meta):
            changes.extend(_key_change(key, live.meta.get(key), desired.meta[key], False, managers))
    return tuple(changes)


def _key_change(
    key: str, before: str | None, after: str | None, secret: bool, managers: Mapping[str, str]
) -> list[KeyChange]:
    if before == after:
        return []
    change: Change = "added" if before is None else "removed" if after is None else "changed"
    return [KeyChange(key, change, before, after, secret, managers.get(key))]


def _order(kind: str) -> int:
    return APPLY_ORDER.get(kind, len(APPLY_ORDER))


def compute_plan(target: str, desired: DesiredState, live: LiveState, rules: PlanRules) -> Plan:
    """The plan that makes ``live`` match ``desired`` under ``rules``."""
    scope = desired.scope
    wanted = sorted(desired_states(desired), key=lambda s: _order(s.kind))
    objects: list[ObjectChange] = []
    warnings: list[str] = []
    blockers: list[str] = []
    if rules.manage_namespace and not live.namespace_exists:
        if rules.create_namespace:
            objects.append(ObjectChange("v1", "Namespace", scope.namespace, None, "create"))
        else:
            blockers.append(
                f"namespace {scope.namespace} does not exist; pass --create-namespace to "
                "create it, or --namespace NS to deploy elsewhere"
            )
    for state in wanted:
        current = live.get(state.ref)
        changes = diff_keys(current, state)
        action: Action = "create" if current is None else "update" if changes else "noop"
        if current is not None and current.immutable and any(c.key in state.data for c in changes):
            blockers.append(
                f"{state.ref} is immutable in the target and its data differs; delete it or "
                "deploy with --immutable (hash-suffixed names)"
            )
        objects.append(_object_change(state, action, changes, current))
    retained: list[Retained] = []
    if rules.prune:
        deletes, retained = _prune(scope, wanted, live, rules)
        objects.extend(deletes)
    checksum: str | None = None
    if rules.rollout and desired.workloads:
        checksum = rollout_checksum(wanted)
        objects.extend(_rollouts(desired.workloads, checksum, live, scope, warnings))
    creates = [o for o in objects if o.action != "delete"]
    deletes_ordered = [o for o in objects if o.action == "delete"]
    creates.sort(key=lambda o: _order(o.kind))
    deletes_ordered.sort(key=lambda o: (-_order(o.kind), o.name))
    return Plan(
        target=target,
        scope=scope,
        objects=(*creates, *deletes_ordered),
        desired=desired,
        retained=tuple(retained),
        warnings=tuple(warnings),
        blockers=tuple(blockers),
        rollout_checksum=checksum,
    )


def _object_change(
    state: ObjectState, action: Action, changes: Sequence[KeyChange], live: ObjectState | None
) -> ObjectChange:
    return ObjectChange(
        api_version=state.api_version,
        kind=state.kind,
        name=state.name,
        namespace=state.namespace,
        action=action,
        changes=tuple(changes),
        uid=live.uid if live else None,
    )


def _prune(
    scope: Scope, wanted: Sequence[ObjectState], live: LiveState, rules: PlanRules
) -> tuple[list[ObjectChange], list[Retained]]:
    keep_hashed = rules.keep_hashed
    wanted_refs = {s.ref for s in wanted}
    candidates = [
        o
        for o in live.objects
        if o.ref not in wanted_refs and (rules.prune_unlabelled or scope.owns(o.labels))
    ]
    newest: set[str] = set()
    groups: dict[tuple[str, str], list[tuple[bool, str, str, str]]] = {}
    for state in (*wanted, *candidates):
        base = hashed_base(state)
        if base is not None:
            desired = state.ref in wanted_refs
            groups.setdefault((state.kind, base), []).append(
                (desired, state.created or "", state.name, state.ref)
            )
    for members in groups.values():
        members.sort(reverse=True)
        newest.update(ref for *_, ref in members[: max(keep_hashed, 1)])
    deletes: list[ObjectChange] = []
    retained: list[Retained] = []
    for state in candidates:
        users = live.referenced.get(state.ref)
        if users:
            retained.append(Retained(state.ref, f"still referenced by {', '.join(sorted(users))}"))
        elif state.ref in newest:
            retained.append(
                Retained(state.ref, f"one of the {max(keep_hashed, 1)} newest hashed versions")
            )
        else:
            change = _object_change(state, "delete", diff_keys(state, None), state)
            deletes.append(replace(change, reason="no longer desired"))
    return deletes, retained


def _rollouts(
    workloads: Sequence[str], checksum: str, live: LiveState, scope: Scope, warnings: list[str]
) -> list[ObjectChange]:
    out: list[ObjectChange] = []
    for ref in workloads:
        kind, _, name = ref.partition("/")
        state = live.workloads.get(ref)
        if state is None:
            warnings.append(f"{ref} not found in namespace {scope.namespace}: it will not be rolled")
            continue
        managers = {ROLLOUT_FIELD: state.manager} if state.manager else {}
        changes = tuple(_key_change(ROLLOUT_FIELD, state.checksum, checksum, False, managers))
        action: Action = "update" if changes else "noop"
        out.append(ObjectChange("apps/v1", kind, name, scope.namespace, action, changes))
    return out


def shown(value: str | None, secret: bool) -> str | None:
    """How a value is printed: secrets as the mask and their fingerprint."""
    if value is None:
        return None
    return f"{MASK} ({value})" if secret else value


_SYMBOL = {"create": "+", "update": "~", "delete": "-", "noop": "="}
_KEY_SYMBOL = {"added": "+", "removed": "-", "changed": "~"}


def format_plan(plan: Plan, *, verbose: bool = False) -> str:
    """The plan as people read it; secrets masked. No-ops are counted, not listed."""
    where = "" if plan.scope.namespace in plan.target else f" (namespace {plan.scope.namespace})"
    lines = [f"Plan: {plan.scope.describe()} -> {plan.target}{where}"]
    for obj in plan.objects:
        if obj.action == "noop":
            continue
        detail = f" ({obj.reason})" if obj.reason else ""
        if obj.action in ("create", "delete") and obj.changes and not verbose:
            detail += f" [{len(obj.changes)} key{'s' if len(obj.changes) > 1 else ''}]"
        lines.append(f"  {_SYMBOL[obj.action]} {obj.ref}{detail}")
        if obj.action == "update" or verbose:
            for change in obj.changes:
                before, after = shown(change.before, change.secret), shown(change.after, change.secret)
                text = {"added": f"{after}", "removed": f"{before}", "changed": f"{before} -> {after}"}
                who = f" (last written by {change.manager})" if change.manager else ""
                lines.append(f"      {_KEY_SYMBOL[change.change]} {change.key}: {text[change.change]}{who}")
    for kept in plan.retained:
        lines.append(f"  = {kept.ref} kept: {kept.reason}")
    lines.extend(f"  warning: {warning}" for warning in plan.warnings)
    lines.append(f"Plan: {plan.summary()}.")
    return "\n".join(lines) + "\n"


_INVERSE: Mapping[Change, Change] = {"added": "removed", "removed": "added", "changed": "changed"}


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One KEY of one object where the live target differs from the desired state.

    ``change`` is what happened live: ``added`` (live has a KEY not desired), ``removed``
    (a desired KEY is missing live, or the whole object is), ``changed``.
    """

    object: str
    key: str
    change: Change
    desired: str | None
    live: str | None
    secret: bool
    manager: str | None

    def to_json(self) -> dict[str, Any]:
        """The CONTRACT.md item plus masked values and the field manager."""
        return {
            "object": self.object,
            "key": self.key,
            "change": self.change,
            "desired": shown(self.desired, self.secret),
            "live": shown(self.live, self.secret),
            "secret": self.secret,
            "manager": self.manager,
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of one scope on one target, against ``source`` (a revision or a render)."""

    target: str
    scope: Scope
    source: str
    items: tuple[DriftItem, ...]
    warnings: tuple[str, ...] = field(default=())
    missing: tuple[str, ...] = field(default=())
    """Desired objects absent from the target (each of their KEYs is an item too)."""
    strays: tuple[str, ...] = field(default=())
    """Objects of this scope in the target that are not desired."""

    @property
    def drift(self) -> bool:
        """Whether anything differs."""
        return bool(self.items)

    def to_json(self) -> dict[str, Any]:
        """``{"drift": bool, "changes": [...]}`` (CONTRACT.md) with context fields."""
        return {
            "drift": self.drift,
            "changes": [item.to_json() for item in self.items],
            "target": self.target,
            "environment": self.scope.tier,
            "tenant": self.scope.tenant,
            "namespace": self.scope.namespace,
            "desired": self.source,
        }

    def format_text(self) -> str:
        """One line per drifted KEY, secrets masked."""
        head = f"{self.scope.describe()} on {self.target} against {self.source}: "
        if not self.items:
            return head + "no drift\n"
        lines = [head + f"{len(self.items)} drifted key(s)"]
        whole = {*self.missing, *self.strays}
        for ref in self.missing:
            count = sum(1 for item in self.items if item.object == ref)
            lines.append(f"  {ref}: removed (missing from the target, {count} key(s))")
        for ref in self.strays:
            count = sum(1 for item in self.items if item.object == ref)
            lines.append(f"  {ref}: added (not desired, {count} key(s))")
        for item in self.items:
            if item.object in whole:
                continue
            values = {
                "added": f"live {shown(item.live, item.secret)}",
                "removed": f"desired {shown(item.desired, item.secret)}",
                "changed": (
                    f"desired {shown(item.desired, item.secret)}, live {shown(item.live, item.secret)}"
                ),
            }[item.change]
            who = f" (by {item.manager})" if item.manager else ""
            lines.append(f"  {item.object} {item.key}: {item.change} ({values}){who}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines) + "\n"


def drift_report(plan: Plan, source: str) -> DriftReport:
    """Read a plan as drift: what the live target did relative to the desired state."""
    items: list[DriftItem] = []
    for obj in plan.objects:
        if obj.action == "noop" or obj.kind == "Namespace":
            continue
        if not obj.changes:
            whole: Change = "removed" if obj.action == "create" else "added"
            items.append(DriftItem(obj.ref, "*", whole, None, None, False, None))
        for c in obj.changes:
            items.append(
                DriftItem(obj.ref, c.key, _INVERSE[c.change], c.after, c.before, c.secret, c.manager)
            )
    missing = tuple(o.ref for o in plan.objects if o.action == "create" and o.kind != "Namespace")
    strays = tuple(o.ref for o in plan.objects if o.action == "delete")
    return DriftReport(plan.target, plan.scope, source, tuple(items), plan.warnings, missing, strays)


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON (secrets masked), for ``deploy --format json``."""
    return {
        "target": plan.target,
        "environment": plan.scope.tier,
        "tenant": plan.scope.tenant,
        "namespace": plan.scope.namespace,
        "objects": [
            {
                "object": obj.ref,
                "action": obj.action,
                "reason": obj.reason or None,
                "changes": [
                    {
                        "key": c.key,
                        "change": c.change,
                        "before": shown(c.before, c.secret),
                        "after": shown(c.after, c.secret),
                        "manager": c.manager,
                    }
                    for c in obj.changes
                ],
            }
            for obj in plan.objects
        ],
        "retained": [{"object": r.ref, "reason": r.reason} for r in plan.retained],
        "warnings": list(plan.warnings),
        "blockers": list(plan.blockers),
        "summary": plan.summary(),
    }


def to_json_text(document: Mapping[str, Any]) -> str:
    """Indented JSON with a trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
