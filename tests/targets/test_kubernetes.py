"""The Kubernetes target: the real ``kubernetes`` client driven against the fake API server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from k8s_fake import FakeKubeAPI, deployment, replicaset
from tierconf.errors import DeployError
from tierconf.targets import (
    ApplyConflictError,
    DesiredState,
    Scope,
    TargetOptions,
    drift_report,
)
from tierconf.targets._kubernetes import NO_CLUSTER, KubernetesTarget, apply_requests, locate_cluster

from .conftest import NAMESPACE, WORKLOADS, DesiredFactory

APPLY = "application/apply-patch+yaml"


def target(kubeconfig: Path, scope: Scope, **options: Any) -> KubernetesTarget:
    """A target for ``scope`` through ``kubeconfig``."""
    return KubernetesTarget.from_kubeconfig([kubeconfig], scope, TargetOptions(**options))


def deploy(kubeconfig: Path, scope: Scope, desired: DesiredState, **options: Any) -> Any:
    """Plan and apply; returns (plan, result)."""
    k8s = target(kubeconfig, scope, **options)
    try:
        plan = k8s.plan(desired)
        return plan, k8s.apply(plan)
    finally:
        k8s.close()


def seed_workloads(fake: FakeKubeAPI) -> None:
    """The project's workloads, as another tool deployed them."""
    fake.seed(deployment("spotify-ai-agent-api", NAMESPACE, config_refs=("spotify-ai-agent-config",)))
    fake.seed(deployment("spotify-ai-agent-ml-inference", NAMESPACE, kind="StatefulSet"))


class TestLocateCluster:
    """Finding the cluster as kubectl does, before importing the client."""

    def test_nothing_configured_is_one_clear_line(self, tmp_path: Path) -> None:
        """No KUBECONFIG, no ~/.kube/config, not in a pod: the one-line hint to use dir:PATH."""
        with pytest.raises(DeployError) as caught:
            locate_cluster(TargetOptions(), environ={}, home=tmp_path)
        assert (
            str(caught.value) == NO_CLUSTER and "\n" not in NO_CLUSTER and "--target dir:PATH" in NO_CLUSTER
        )

    def test_sources_in_kubectl_order(self, tmp_path: Path) -> None:
        """$KUBECONFIG first, then ~/.kube/config, then the in-cluster service account."""
        home_config = tmp_path / ".kube" / "config"
        home_config.parent.mkdir()
        home_config.write_text("{}")
        other = tmp_path / "other"
        other.write_text("{}")
        assert locate_cluster(TargetOptions(), environ={"KUBECONFIG": str(other)}, home=tmp_path).files == (
            other,
        )
        assert locate_cluster(TargetOptions(), environ={}, home=tmp_path).files == (home_config,)
        pod = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
        assert locate_cluster(TargetOptions(), environ=pod, home=tmp_path / "none").source == "in-cluster"

    def test_kubeconfig_naming_no_file_is_an_error(self, tmp_path: Path) -> None:
        """A KUBECONFIG that names nothing existing is reported, not silently skipped."""
        with pytest.raises(DeployError, match="names no existing kubeconfig"):
            locate_cluster(TargetOptions(), environ={"KUBECONFIG": str(tmp_path / "nope")}, home=tmp_path)


class TestRequests:
    """Requests are data, built before anything is sent."""

    def test_apply_order_and_options(self, scope: Scope, make_desired: DesiredFactory) -> None:
        """Namespace, Secrets, ConfigMaps, then workloads; force and dry run carried as asked."""
        from tierconf.targets import LiveState, PlanRules, WorkloadState, compute_plan

        desired = make_desired()
        live = LiveState(
            namespace_exists=False, workloads={ref: WorkloadState(ref, None) for ref in WORKLOADS}
        )
        plan = compute_plan(
            "t", desired, live, PlanRules(manage_namespace=True, create_namespace=True, rollout=True)
        )
        requests = apply_requests(plan, TargetOptions(force_conflicts=True, dry_run=True))
        kinds = [r.kind for r in requests]
        assert kinds[0] == "Namespace" and kinds[-2:] == ["Deployment", "StatefulSet"]
        assert kinds.index("ConfigMap") > kinds.index("Secret")
        assert all(
            r.verb == "apply" and r.force and r.dry_run and r.field_manager == "tierconf" for r in requests
        )
        assert requests[1].path == f"/api/v1/namespaces/{NAMESPACE}/secrets/spotify-ai-agent-database-secrets"
        assert "body" not in repr(requests[1])


class TestApply:
    """plan/apply/dry-run against the fake."""

    def test_first_deploy_uses_server_side_apply(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """Every write is an apply PATCH as field manager tierconf, Secrets before ConfigMaps."""
        seed_workloads(fake_api)
        plan, result = deploy(kubeconfig, scope, make_desired())
        writes = [r for r in fake_api.requests if r.method == "PATCH"]
        assert writes and all(
            r.content_type == APPLY and r.query["fieldManager"] == ["tierconf"] for r in writes
        )
        assert all("force" not in r.query and "dryRun" not in r.query for r in writes)
        paths = [r.path.split("/")[-2] for r in writes]
        assert paths.index("configmaps") > paths.index("secrets") and paths[-2:] == [
            "deployments",
            "statefulsets",
        ]
        stored = fake_api.get("ConfigMap", NAMESPACE, "spotify-ai-agent-config")
        assert stored is not None and stored["metadata"]["managedFields"][0]["manager"] == "tierconf"
        assert set(result.rolled) == set(WORKLOADS) and plan.count("create") == len(result.created)

    def test_unchanged_deploy_sends_no_write(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """Planning again after an apply is all no-ops, and applying it writes nothing."""
        seed_workloads(fake_api)
        desired = make_desired()
        deploy(kubeconfig, scope, desired)
        before = len([r for r in fake_api.requests if r.method != "GET"])
        plan, _ = deploy(kubeconfig, scope, desired)
        assert not plan.changed
        assert len([r for r in fake_api.requests if r.method != "GET"]) == before

    def test_dry_run_is_server_side_and_persists_nothing(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """--dry-run sends every apply with dryRun=All; the server keeps nothing."""
        _, result = deploy(kubeconfig, scope, make_desired(), dry_run=True)
        writes = [r for r in fake_api.requests if r.method == "PATCH"]
        assert result.dry_run and writes and all(r.query.get("dryRun") == ["All"] for r in writes)
        assert fake_api.names("ConfigMap", NAMESPACE) == [] and fake_api.names("Secret", NAMESPACE) == []

    def test_namespace_creation_is_opt_in(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, make_desired: DesiredFactory
    ) -> None:
        """A missing namespace blocks the deploy unless --create-namespace, which applies it first."""
        other = Scope("spotify-ai-agent", "development", None, "brand-new")
        desired = make_desired(target_scope=other, workloads=())
        with pytest.raises(DeployError, match="namespace brand-new does not exist"):
            deploy(kubeconfig, other, desired)
        assert fake_api.get("Namespace", None, "brand-new") is None
        deploy(kubeconfig, other, desired, create_namespace=True)
        first_write = next(r for r in fake_api.requests if r.method == "PATCH")
        assert first_write.path == "/api/v1/namespaces/brand-new"
        assert fake_api.names("ConfigMap", "brand-new")

    def test_invalid_object_is_reported_with_the_servers_message(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope
    ) -> None:
        """A 422 Status becomes one line naming the object and the field."""
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "bad", "namespace": NAMESPACE, "labels": scope.labels()},
            "data": {"NOT VALID": "x"},
        }
        with pytest.raises(DeployError) as caught:
            deploy(kubeconfig, scope, DesiredState(scope, (manifest,)))
        message = str(caught.value)
        assert "ConfigMap/bad: apply rejected as invalid" in message and "data[NOT VALID]" in message
        assert "\n" not in message


class TestExternalSecrets:
    """--secrets external applies ExternalSecret custom resources."""

    def test_external_secrets_are_applied_as_custom_resources(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """They go to the external-secrets.io API group; no Secret is written."""
        deploy(kubeconfig, scope, make_desired(external=True, workloads=()))
        assert fake_api.names("ExternalSecret", NAMESPACE) and not fake_api.names("Secret", NAMESPACE)
        assert fake_api.writes("PATCH", "/externalsecrets/spotify-ai-agent-database-secrets")[
            0
        ].path.startswith("/apis/external-secrets.io/v1beta1/namespaces/")

    def test_missing_operator_is_named(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """Without the CRD the 404 says which operator is missing."""
        with FakeKubeAPI() as fake:
            fake.create_namespace(NAMESPACE)
            config = fake.write_kubeconfig(tmp_path / "config")
            with pytest.raises(DeployError, match="External Secrets Operator"):
                deploy(config, scope, make_desired(external=True, workloads=()))


class TestConflicts:
    """Server-side apply conflicts with other field managers."""

    def test_conflict_names_the_other_field_manager(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """kubectl edit took DB_POOL_SIZE: the 409 is reported with that manager and field."""
        deploy(kubeconfig, scope, make_desired(workloads=()))
        fake_api.edit(
            "ConfigMap", NAMESPACE, "spotify-ai-agent-database-config", {"data": {"DB_POOL_SIZE": "77"}}
        )
        with pytest.raises(ApplyConflictError) as caught:
            deploy(kubeconfig, scope, make_desired(sets=("DB_POOL_SIZE=30",), workloads=()))
        assert caught.value.managers == ("kubectl-edit",)
        assert caught.value.fields == (".data.DB_POOL_SIZE",)
        assert '"kubectl-edit"' in str(caught.value) and "--force-conflicts" in str(caught.value)

    def test_force_conflicts_takes_the_field_over(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """With --force-conflicts the value is applied and tierconf owns the field again."""
        deploy(kubeconfig, scope, make_desired(workloads=()))
        fake_api.edit(
            "ConfigMap", NAMESPACE, "spotify-ai-agent-database-config", {"data": {"DB_POOL_SIZE": "77"}}
        )
        deploy(kubeconfig, scope, make_desired(sets=("DB_POOL_SIZE=30",), workloads=()), force_conflicts=True)
        forced = [r for r in fake_api.requests if r.method == "PATCH" and r.query.get("force") == ["true"]]
        assert forced
        live = fake_api.get("ConfigMap", NAMESPACE, "spotify-ai-agent-database-config")
        assert live is not None and live["data"]["DB_POOL_SIZE"] == "30"
        owners = {e["manager"]: e for e in live["metadata"]["managedFields"]}
        assert "f:DB_POOL_SIZE" not in json.dumps(owners.get("kubectl-edit", {}))

    def test_drift_names_the_manager_that_changed_a_key(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """managedFields tell who last wrote the drifted KEY."""
        desired = make_desired(workloads=())
        deploy(kubeconfig, scope, desired)
        fake_api.edit("ConfigMap", NAMESPACE, "spotify-ai-agent-config", {"data": {"LOG_LEVEL": "ERROR"}})
        k8s = target(kubeconfig, scope, prune=True)
        (item,) = drift_report(k8s.plan(desired), "test").items
        k8s.close()
        assert (item.key, item.change, item.live, item.manager) == (
            "LOG_LEVEL",
            "changed",
            "ERROR",
            "kubectl-edit",
        )


class TestRolloutTrigger:
    """One coalesced checksum annotation on the workloads' pod templates."""

    def test_configmap_and_secret_changing_together_patch_each_workload_once(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """One PATCH per workload, one generation bump, carrying the new checksum."""
        seed_workloads(fake_api)
        deploy(kubeconfig, scope, make_desired())
        generation = fake_api.get("Deployment", NAMESPACE, "spotify-ai-agent-api")["metadata"]["generation"]  # type: ignore[index]
        fake_api.requests.clear()
        changed = make_desired(sets=("DB_POOL_SIZE=41",), secrets={"DB_PASSWORD": "rotated-db-password-9"})
        plan, result = deploy(kubeconfig, scope, changed)
        assert len(fake_api.writes("PATCH", "/configmaps/spotify-ai-agent-database-config")) == 1
        assert len(fake_api.writes("PATCH", "/secrets/spotify-ai-agent-database-secrets")) == 1
        assert len(fake_api.writes("PATCH", "/deployments/spotify-ai-agent-api")) == 1
        assert len(fake_api.writes("PATCH", "/statefulsets/spotify-ai-agent-ml-inference")) == 1
        api = fake_api.get("Deployment", NAMESPACE, "spotify-ai-agent-api")
        assert api is not None and api["metadata"]["generation"] == generation + 1
        annotation = api["spec"]["template"]["metadata"]["annotations"]["tierconf.io/config-checksum"]
        assert annotation == plan.rollout_checksum and set(result.rolled) == set(WORKLOADS)
        assert api["spec"]["template"]["spec"]["containers"]  # the rest of the workload is untouched

    def test_missing_workload_is_never_created(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """A listed workload that does not exist gets a warning and no PATCH."""
        plan, _ = deploy(kubeconfig, scope, make_desired())
        assert len(plan.warnings) == 2
        assert not fake_api.writes("PATCH", "/deployments/spotify-ai-agent-api")


class TestPrune:
    """--prune: this scope's strays go; hashed ConfigMaps still in use stay."""

    def test_prune_deletes_strays_of_this_scope_only(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """A labelled leftover is deleted (with a uid precondition); another tenant's is not."""
        deploy(kubeconfig, scope, make_desired(workloads=()))
        stray = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "spotify-ai-agent-old", "namespace": NAMESPACE, "labels": scope.labels()},
        }
        acme = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "spotify-ai-agent-config-acme",
                "namespace": NAMESPACE,
                "labels": {**scope.labels(), "tierconf.io/tenant": "acme"},
            },
        }
        fake_api.seed(stray)
        fake_api.seed(acme)
        plan, result = deploy(kubeconfig, scope, make_desired(workloads=()), prune=True)
        assert result.deleted == ("ConfigMap/spotify-ai-agent-old",)
        assert "spotify-ai-agent-config-acme" in fake_api.names("ConfigMap", NAMESPACE)
        assert "spotify-ai-agent-old" not in fake_api.names("ConfigMap", NAMESPACE)
        (delete,) = fake_api.writes("DELETE", "/configmaps/spotify-ai-agent-old")
        assert json.loads(delete.body)["preconditions"]["uid"]  # never deletes a recreated object
        assert plan.objects[-1].action == "delete"

    def test_prune_never_deletes_a_hashed_configmap_a_replicaset_uses(
        self, fake_api: FakeKubeAPI, kubeconfig: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """Old hashed versions: kept while a live ReplicaSet uses them, deleted past N otherwise."""
        names = []
        for size in (11, 12, 13):
            deploy(
                kubeconfig, scope, make_desired(sets=(f"DB_POOL_SIZE={size}",), immutable=True, workloads=())
            )
            names.append(
                next(
                    n
                    for n in fake_api.names("ConfigMap", NAMESPACE)
                    if n.startswith("spotify-ai-agent-database-config-") and n not in names
                )
            )
        fake_api.seed(replicaset("api-v1", NAMESPACE, config_refs=(names[0],)))
        fake_api.seed(replicaset("api-v2", NAMESPACE, config_refs=(names[1],), replicas=0))
        plan, result = deploy(
            kubeconfig,
            scope,
            make_desired(sets=("DB_POOL_SIZE=14",), immutable=True, workloads=()),
            prune=True,
            keep_hashed=1,
        )
        live = fake_api.names("ConfigMap", NAMESPACE)
        assert names[0] in live  # used by a live ReplicaSet
        assert names[1] not in live and names[2] not in live  # scaled to zero / unused, past N
        assert any(
            k.ref == f"ConfigMap/{names[0]}" and "ReplicaSet/api-v1" in k.reason for k in plan.retained
        )
        assert f"ConfigMap/{names[1]}" in result.deleted


class TestErrors:
    """Unreachable or refusing servers: one line, nothing applied."""

    def test_unreachable_server_is_one_line_with_its_url(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """A kubeconfig pointing at a closed port fails fast with the server URL."""
        with FakeKubeAPI() as fake:
            config = fake.write_kubeconfig(tmp_path / "config")
            url = fake.url
        k8s = target(config, scope, timeout=5)
        with pytest.raises(DeployError) as caught:
            k8s.plan(make_desired())
        message = str(caught.value)
        assert url in message and "unreachable" in message and "\n" not in message

    def test_wrong_credentials_are_reported(
        self, fake_api: FakeKubeAPI, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """A 401 names the server and points at the kubeconfig credentials."""
        config = fake_api.write_kubeconfig(tmp_path / "bad", token="wrong")
        with pytest.raises(DeployError, match=r"unauthorized \(401\)"):
            target(config, scope).plan(make_desired())
