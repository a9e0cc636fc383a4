"""The public surface of ``tierconf.targets``."""

from __future__ import annotations

from pathlib import Path

import pytest

import tierconf.targets as targets
from tierconf.errors import SchemaError
from tierconf.targets import DeployTarget, InMemoryTarget, Scope
from tierconf.targets._directory import DirectoryTarget
from tierconf.targets._kubernetes import KubernetesTarget
from tierconf.tree import load_tree


class TestTargetsPackage:
    """Exports and the one boundary."""

    def test_every_exported_name_resolves(self) -> None:
        """Each name in __all__ is importable from the package."""
        for name in targets.__all__:
            assert getattr(targets, name) is not None, name

    def test_each_target_implements_the_boundary(self) -> None:
        """The twin, the directory and the cluster targets all have the DeployTarget methods."""
        members = ("name", "plan", "apply", "read_live", "close")
        for implementation in (InMemoryTarget, DirectoryTarget, KubernetesTarget):
            assert all(hasattr(implementation, m) for m in members), implementation
        twin: DeployTarget = InMemoryTarget(Scope("a", "development", None, "ns"))
        assert twin.read_live().objects == ()


class TestProjectWorkloads:
    """``workloads:`` in tierconf.yaml lists what the rollout trigger patches."""

    def test_bundled_project_lists_the_workloads(self) -> None:
        """The Spotify AI Agent's API, worker and ML inference consume the config."""
        assert load_tree().project.workloads == (
            "Deployment/spotify-ai-agent-api",
            "Deployment/spotify-ai-agent-worker",
            "StatefulSet/spotify-ai-agent-ml-inference",
        )

    def test_a_bad_workload_is_reported_at_its_line(self, tmp_path: Path) -> None:
        """Only Deployment/NAME or StatefulSet/NAME is accepted; the error names the file:line."""
        (tmp_path / "tierconf.yaml").write_text("app: demo\nworkloads:\n  - DaemonSet/agent\n")
        with pytest.raises(SchemaError) as caught:
            load_tree(tmp_path)
        assert "tierconf.yaml:2" in str(caught.value) and "workloads" in str(caught.value)
