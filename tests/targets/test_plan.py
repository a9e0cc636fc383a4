"""Planning and drift as pure functions: desired vs live, per object and per KEY."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from typing import Any

from tierconf.render import content_hash
from tierconf.secrets._fingerprint import fingerprint
from tierconf.targets import (
    ROLLOUT_ANNOTATION,
    DesiredState,
    LiveState,
    PlanRules,
    Scope,
    WorkloadState,
    compute_plan,
    diff_keys,
    drift_report,
    format_plan,
    plan_json,
    rollout_checksum,
    state_of,
)
from tierconf.targets._state import desired_states

from .conftest import NAMESPACE, WORKLOADS, DesiredFactory

K8S_RULES = PlanRules(prune=True, manage_namespace=True, rollout=True)
ROLLOUT_KEY = f"spec.template.metadata.annotations.{ROLLOUT_ANNOTATION}"


def live_of(desired: DesiredState, **kwargs: Any) -> LiveState:
    """The live state of a target holding exactly ``desired``, as the API returns objects."""
    objects = []
    for manifest in desired.manifests:
        served = copy.deepcopy(dict(manifest))
        served["metadata"].update(
            resourceVersion="42",
            uid="u-1",
            generation=1,
            creationTimestamp="2024-01-01T00:00:00Z",
            managedFields=[{"manager": "tierconf", "operation": "Apply", "fieldsV1": {}}],
        )
        served["status"] = {}
        objects.append(state_of(served))
    return LiveState(objects=tuple(objects), **kwargs)


def with_objects(live: LiveState, *manifests: Mapping[str, Any]) -> LiveState:
    """``live`` plus more objects."""
    return LiveState(
        objects=(*live.objects, *(state_of(m) for m in manifests)),
        namespace_exists=live.namespace_exists,
        workloads=live.workloads,
        referenced=live.referenced,
    )


def configmap(
    name: str, labels: Mapping[str, str], *, immutable: bool = False, created: str = "", value: str = "1"
) -> dict[str, Any]:
    """A ConfigMap as it would be live (optionally hashed and immutable)."""
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": dict(labels),
            "creationTimestamp": created or "2024-01-01T00:00:00Z",
        },
        "data": {"A": value},
    }
    if immutable:
        manifest["immutable"] = True
        manifest["metadata"]["name"] = f"{name}-{content_hash(manifest)}"
    return manifest


class TestStateOf:
    """Reducing manifests to comparable states."""

    def test_server_managed_fields_are_not_changes(self, make_desired: DesiredFactory) -> None:
        """resourceVersion, uid, managedFields, timestamps, generation and status are ignored."""
        desired = make_desired()
        plan = compute_plan("t", desired, live_of(desired), PlanRules())
        assert not plan.changed

    def test_defaulted_fields_compare_equal(self) -> None:
        """A Secret without ``type`` is Opaque, and absent ``immutable`` is false."""
        desired = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "type": "Opaque",
            "immutable": False,
            "data": {"K": base64.b64encode(b"v").decode()},
        }
        live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": desired["data"]}
        assert diff_keys(state_of(live), state_of(desired)) == ()

    def test_secret_values_are_fingerprinted(self) -> None:
        """Secret data becomes fingerprints; a stored revision's fingerprints compare equal."""
        plain = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"K": base64.b64encode(b"hunter2-long-value").decode()},
        }
        stored = {**plain, "data": {"K": fingerprint("hunter2-long-value")}}
        state = state_of(plain)
        assert state.data == {"K": fingerprint("hunter2-long-value")}
        assert "hunter2" not in repr(state)
        assert state_of(stored, fingerprinted=True).data == state.data

    def test_fields_other_tools_add_are_not_drift(self, make_desired: DesiredFactory) -> None:
        """A label or annotation added live is ignored; a data KEY added live is not."""
        desired = make_desired()
        live = copy.deepcopy(dict(desired.manifests[-1]))
        live["metadata"]["labels"]["team"] = "music"
        live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
        assert diff_keys(state_of(live), state_of(desired.manifests[-1])) == ()
        live["data"]["EXTRA"] = "1"
        (change,) = diff_keys(state_of(live), state_of(desired.manifests[-1]))
        assert (change.key, change.change) == ("EXTRA", "removed")

    def test_managed_fields_name_the_last_writer(self) -> None:
        """The newest manager owning a KEY is named, preferring one other than tierconf."""
        entries = [
            {
                "manager": "tierconf",
                "operation": "Apply",
                "time": "2024-01-01T00:00:02Z",
                "fieldsV1": {"f:data": {"f:A": {}, "f:B": {}}},
            },
            {
                "manager": "kubectl-edit",
                "operation": "Update",
                "time": "2024-01-01T00:00:01Z",
                "fieldsV1": {"f:data": {"f:B": {}}},
            },
        ]
        manifest = {"kind": "ConfigMap", "metadata": {"name": "c", "managedFields": entries}, "data": {}}
        assert state_of(manifest, own_manager="tierconf").managers == {"A": "tierconf", "B": "kubectl-edit"}


class TestComputePlan:
    """What a deploy would do, in apply order."""

    def test_first_deploy_creates_in_apply_order(self, make_desired: DesiredFactory) -> None:
        """Namespace, then Secrets, then ConfigMaps; every KEY is listed as added."""
        desired = make_desired(workloads=())
        rules = PlanRules(manage_namespace=True, create_namespace=True)
        plan = compute_plan("t", desired, LiveState(namespace_exists=False), rules)
        kinds = [obj.kind for obj in plan.objects]
        assert kinds[0] == "Namespace"
        assert kinds.index("ConfigMap") > max(i for i, k in enumerate(kinds) if k == "Secret")
        assert all(obj.action == "create" for obj in plan.objects)
        db = next(o for o in plan.objects if o.name == "spotify-ai-agent-database-config")
        assert {c.change for c in db.changes} == {"added"} and "DB_POOL_SIZE" in {c.key for c in db.changes}

    def test_missing_namespace_blocks_without_opt_in(self, make_desired: DesiredFactory) -> None:
        """Creating the namespace is opt-in: without it the plan carries a blocker."""
        plan = compute_plan("t", make_desired(), LiveState(namespace_exists=False), K8S_RULES)
        assert plan.blockers and "--create-namespace" in plan.blockers[0]

    def test_changed_key_is_an_update_with_before_and_after(self, make_desired: DesiredFactory) -> None:
        """Only the object holding the changed KEY is updated, with its old and new value."""
        before = make_desired()
        plan = compute_plan("t", make_desired(sets=("DB_POOL_SIZE=40",)), live_of(before), PlanRules())
        (updated,) = [o for o in plan.objects if o.action == "update"]
        assert updated.ref == "ConfigMap/spotify-ai-agent-database-config"
        (change,) = updated.changes
        assert (change.key, change.change, change.after) == ("DB_POOL_SIZE", "changed", "40")

    def test_prune_deletes_only_this_scopes_objects(self, make_desired: DesiredFactory, scope: Scope) -> None:
        """A stray of this scope is deleted, last; another tenant's object is left alone."""
        desired = make_desired()
        ours = configmap("spotify-ai-agent-old", scope.labels())
        theirs = configmap("spotify-ai-agent-config-acme", {**scope.labels(), "tierconf.io/tenant": "acme"})
        plan = compute_plan("t", desired, with_objects(live_of(desired), ours, theirs), K8S_RULES)
        deletes = [o.ref for o in plan.objects if o.action == "delete"]
        assert deletes == ["ConfigMap/spotify-ai-agent-old"]
        assert plan.objects[-1].action == "delete"

    def test_prune_keeps_hashed_configmaps_still_referenced(
        self, make_desired: DesiredFactory, scope: Scope
    ) -> None:
        """An old hashed ConfigMap used by a live ReplicaSet survives prune even past N."""
        desired = make_desired(immutable=True)
        old = configmap(
            "spotify-ai-agent-config", scope.labels(), immutable=True, created="2023-01-01T00:00:00Z"
        )
        base = with_objects(live_of(desired), old)
        live = LiveState(
            objects=base.objects, referenced={f"ConfigMap/{old['metadata']['name']}": ("ReplicaSet/api-1",)}
        )
        plan = compute_plan("t", desired, live, PlanRules(prune=True, keep_hashed=1))
        assert not [o for o in plan.objects if o.action == "delete"]
        (kept,) = plan.retained
        assert "ReplicaSet/api-1" in kept.reason

    def test_prune_keeps_the_newest_hashed_versions(self, make_desired: DesiredFactory, scope: Scope) -> None:
        """Of unreferenced hashed versions, the newest N (desired included) stay, older go."""
        desired = make_desired(immutable=True)
        olds = [
            configmap(
                "spotify-ai-agent-config",
                scope.labels(),
                immutable=True,
                created=f"2023-01-0{i}T00:00:00Z",
                value=str(i),
            )
            for i in (1, 2, 3)
        ]
        live = with_objects(live_of(desired), *olds)
        plan = compute_plan("t", desired, live, PlanRules(prune=True, keep_hashed=3))
        kept = {k.ref for k in plan.retained}
        deleted = {o.ref for o in plan.objects if o.action == "delete"}
        names = [f"ConfigMap/{m['metadata']['name']}" for m in olds]
        assert kept == set(names[1:]) and deleted == {names[0]}

    def test_configmap_and_secret_changing_together_roll_once(self, make_desired: DesiredFactory) -> None:
        """One coalesced checksum: each workload gets a single update with a single change."""
        before = make_desired()
        old_sum = rollout_checksum(desired_states(before))
        workloads = {ref: WorkloadState(ref, old_sum) for ref in WORKLOADS}
        after = make_desired(sets=("DB_POOL_SIZE=40",), secrets={"DB_PASSWORD": "rotated-password-123"})
        plan = compute_plan("t", after, live_of(before, workloads=workloads), K8S_RULES)
        updated = {o.ref: o for o in plan.objects if o.action == "update"}
        assert {
            "ConfigMap/spotify-ai-agent-database-config",
            "Secret/spotify-ai-agent-database-secrets",
        } <= set(updated)
        for ref in WORKLOADS:
            (change,) = updated[ref].changes
            assert change.key == ROLLOUT_KEY and change.after == plan.rollout_checksum != old_sum
        assert [o.kind for o in plan.objects if o.action != "noop"][-2:] == ["Deployment", "StatefulSet"]

    def test_unchanged_data_rolls_nothing(self, make_desired: DesiredFactory) -> None:
        """Same data, same checksum: workloads are no-ops, even when annotations differ."""
        desired = make_desired()
        checksum = rollout_checksum(desired_states(desired))
        live = live_of(desired, workloads={ref: WorkloadState(ref, checksum) for ref in WORKLOADS})
        edited = [copy.deepcopy(dict(m)) for m in desired.manifests]
        edited[0]["metadata"]["annotations"]["tierconf.io/source-layers"] = "base/other.yaml"
        plan = compute_plan(
            "t", DesiredState(desired.scope, tuple(edited), workloads=WORKLOADS), live, K8S_RULES
        )
        assert [o.ref for o in plan.objects if o.action != "noop"] == [
            f"{edited[0]['kind']}/{edited[0]['metadata']['name']}"
        ]

    def test_missing_workload_is_a_warning(self, make_desired: DesiredFactory) -> None:
        """A listed workload that does not exist is not patched (that would create it)."""
        plan = compute_plan("t", make_desired(), LiveState(), K8S_RULES)
        assert len(plan.warnings) == 2 and all("will not be rolled" in w for w in plan.warnings)
        assert not [o for o in plan.objects if o.kind in ("Deployment", "StatefulSet")]


class TestDrift:
    """A plan read as drift: what happened live relative to the desired state."""

    def test_drift_reports_each_key_from_the_live_side(self, make_desired: DesiredFactory) -> None:
        """Edited, deleted and added KEYs read changed, removed and added."""
        desired = make_desired()
        served = [copy.deepcopy(dict(m)) for m in desired.manifests]
        db = next(m for m in served if m["metadata"]["name"] == "spotify-ai-agent-database-config")
        db["data"]["DB_POOL_SIZE"] = "99"
        del db["data"]["DB_HOST"]
        db["data"]["ROGUE"] = "1"
        live = LiveState(objects=tuple(state_of(m) for m in served))
        report = drift_report(compute_plan("t", desired, live, PlanRules()), "revision 1")
        got = {(i.object, i.key, i.change) for i in report.items}
        ref = "ConfigMap/spotify-ai-agent-database-config"
        assert got == {(ref, "DB_POOL_SIZE", "changed"), (ref, "DB_HOST", "removed"), (ref, "ROGUE", "added")}

    def test_json_has_the_contract_shape_and_masks_secrets(self, make_desired: DesiredFactory) -> None:
        """{"drift", "changes": [{object, key, change}]} with secrets masked, never plain."""
        desired = make_desired(secrets={"DB_PASSWORD": "the-desired-password"})
        live = live_of(make_desired(secrets={"DB_PASSWORD": "a-live-password-value"}))
        document = drift_report(compute_plan("t", desired, live, PlanRules()), "a fresh render").to_json()
        assert document["drift"] is True
        (item,) = document["changes"]
        assert {k: item[k] for k in ("object", "key", "change")} == {
            "object": "Secret/spotify-ai-agent-database-secrets",
            "key": "DB_PASSWORD",
            "change": "changed",
        }
        text = json.dumps(document)
        assert "the-desired-password" not in text and "a-live-password-value" not in text
        assert item["desired"].startswith("********")

    def test_plan_text_and_json_never_show_secret_values(self, make_desired: DesiredFactory) -> None:
        """Creating Secrets shows masks and fingerprints only."""
        desired = make_desired(secrets={"JWT_SECRET_KEY": "jwt-signing-key-0123456789"})
        plan = compute_plan("t", desired, LiveState(), PlanRules())
        printed = format_plan(plan, verbose=True) + json.dumps(plan_json(plan)) + repr(plan)
        assert "jwt-signing-key-0123456789" not in printed
        assert base64.b64encode(b"jwt-signing-key-0123456789").decode() not in printed
        assert "JWT_SECRET_KEY: ******** (sha256:" in printed
