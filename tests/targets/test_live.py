"""Opt-in: the Kubernetes target against a real cluster.

Runs only when ``TIERCONF_LIVE_KUBECONFIG`` names a kubeconfig whose current context
reaches a cluster where the user may create and delete a namespace. Everything happens
in a scratch namespace ``tierconf-live-<random>`` that is deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tierconf.targets import ApplyConflictError, Scope, TargetOptions, drift_report
from tierconf.targets._kubernetes import KubernetesTarget

from .conftest import DesiredFactory

LIVE = os.environ.get("TIERCONF_LIVE_KUBECONFIG", "")
pytestmark = pytest.mark.skipif(
    not LIVE, reason="set TIERCONF_LIVE_KUBECONFIG to a kubeconfig with a reachable cluster"
)


@pytest.fixture
def live_scope() -> Iterator[Scope]:
    """A scratch namespace, deleted (with everything in it) after the test."""
    namespace = f"tierconf-live-{uuid.uuid4().hex[:8]}"
    yield Scope("spotify-ai-agent", "development", None, namespace)
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=LIVE)
    try:
        client.CoreV1Api(api).delete_namespace(namespace)
    except client.ApiException as exc:  # never created: nothing to clean
        if exc.status != 404:
            raise
    finally:
        api.close()


class TestLiveCluster:
    """The cycle the fake verifies, against the real API server."""

    def test_dry_run_apply_drift_conflict_force(
        self, live_scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """Server-side dry run, apply, clean drift, a foreign edit named in drift, 409, forced apply."""
        desired = make_desired(target_scope=live_scope, workloads=())
        kubeconfig = [Path(LIVE)]
        dry = KubernetesTarget.from_kubeconfig(
            kubeconfig, live_scope, TargetOptions(create_namespace=True, dry_run=True)
        )
        assert dry.apply(dry.plan(desired)).dry_run
        dry.close()

        k8s = KubernetesTarget.from_kubeconfig(
            kubeconfig, live_scope, TargetOptions(create_namespace=True, prune=True)
        )
        try:
            k8s.apply(k8s.plan(desired))
            assert not k8s.plan(desired).changed
            from kubernetes import client

            client.CoreV1Api(k8s._client).patch_namespaced_config_map(
                "spotify-ai-agent-config",
                live_scope.namespace,
                {"data": {"LOG_LEVEL": "CRITICAL"}},
                field_manager="tierconf-live-test",
            )
            (item,) = drift_report(k8s.plan(desired), "live").items
            assert (item.key, item.manager) == ("LOG_LEVEL", "tierconf-live-test")
            with pytest.raises(ApplyConflictError) as caught:
                k8s.apply(k8s.plan(desired))
            assert caught.value.managers == ("tierconf-live-test",)
        finally:
            k8s.close()
        forced = KubernetesTarget.from_kubeconfig(kubeconfig, live_scope, TargetOptions(force_conflicts=True))
        try:
            forced.apply(forced.plan(desired))
            assert not drift_report(forced.plan(desired), "live").drift
        finally:
            forced.close()
