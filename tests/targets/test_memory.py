"""The in-memory twin: the delivery rules without any server."""

from __future__ import annotations

import pytest

from tierconf.errors import DeployError
from tierconf.targets import InMemoryTarget, Scope, TargetOptions, drift_report

from .conftest import WORKLOADS, DesiredFactory


def twin(scope: Scope, **options: object) -> InMemoryTarget:
    """A twin holding the listed workloads (not yet rolled)."""
    return InMemoryTarget(scope, TargetOptions(**options), workloads=dict.fromkeys(WORKLOADS))  # type: ignore[arg-type]


class TestInMemoryTarget:
    """plan -> apply -> plan again, as with a cluster."""

    def test_apply_then_plan_is_all_noop(self, scope: Scope, make_desired: DesiredFactory) -> None:
        """After applying a plan, planning the same desired state changes nothing."""
        target = twin(scope)
        desired = make_desired()
        result = target.apply(target.plan(desired))
        assert len(result.created) == len(desired.manifests) and set(result.rolled) == set(WORKLOADS)
        assert not target.plan(desired).changed

    def test_dry_run_changes_nothing(self, scope: Scope, make_desired: DesiredFactory) -> None:
        """With dry_run the result lists the changes but the target stays empty."""
        target = twin(scope, dry_run=True)
        result = target.apply(target.plan(make_desired()))
        assert result.dry_run and result.created and target.manifests() == {}

    def test_config_and_secret_change_rolls_each_workload_once(
        self, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """Two objects changing in one deploy bump each workload's rollout counter by one."""
        target = twin(scope)
        target.apply(target.plan(make_desired()))
        after = make_desired(sets=("DB_POOL_SIZE=40",), secrets={"DB_PASSWORD": "new-password-value-1"})
        target.apply(target.plan(after))
        assert target.rollouts == dict.fromkeys(WORKLOADS, 2)

    def test_prune_removes_objects_no_longer_desired(
        self, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """Deploying with external secrets and --prune deletes the old inline Secrets."""
        target = twin(scope, prune=True)
        target.apply(target.plan(make_desired()))
        result = target.apply(target.plan(make_desired(external=True)))
        assert {ref.split("/")[0] for ref in result.deleted} == {"Secret"}
        assert not any(ref.startswith("Secret/") for ref in target.manifests())

    def test_edit_is_seen_as_drift_and_healed(self, scope: Scope, make_desired: DesiredFactory) -> None:
        """A KEY edited live shows in drift; applying the plan again restores it."""
        target = twin(scope)
        desired = make_desired()
        target.apply(target.plan(desired))
        target.edit("ConfigMap/spotify-ai-agent-config", "LOG_LEVEL", "CRITICAL")
        (item,) = drift_report(target.plan(desired), "test").items
        assert (item.object, item.key, item.change) == (
            "ConfigMap/spotify-ai-agent-config",
            "LOG_LEVEL",
            "changed",
        )
        target.apply(target.plan(desired))
        assert not drift_report(target.plan(desired), "test").drift

    def test_missing_namespace_blocks_apply(self, scope: Scope, make_desired: DesiredFactory) -> None:
        """Without --create-namespace a missing namespace stops the apply before any change."""
        target = InMemoryTarget(scope, namespace_exists=False)
        with pytest.raises(DeployError, match="create-namespace"):
            target.apply(target.plan(make_desired()))
        assert target.manifests() == {}
