"""The ``dir:PATH`` GitOps target as a library: layout, atomic swap, ownership, git."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from tierconf.errors import DeployError
from tierconf.targets import Scope, TargetOptions
from tierconf.targets._directory import MARKER, DirectoryTarget, _exchange

from .conftest import DesiredFactory


def deploy(path: Path, scope: Scope, desired: object, **options: object) -> DirectoryTarget:
    """Plan and apply ``desired`` to ``path``."""
    target = DirectoryTarget(path, scope, TargetOptions(**options))  # type: ignore[arg-type]
    target.apply(target.plan(desired).for_revision(1))  # type: ignore[arg-type]
    return target


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


class TestLayout:
    """One file per object, a kustomization, modes."""

    def test_files_kustomization_and_modes(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """Stable names, kustomization listing them in apply order, Secrets 0600."""
        out = tmp_path / "deploy"
        deploy(out, scope, make_desired())
        assert (out / "configmap-spotify-ai-agent-config.yaml").stat().st_mode & 0o777 == 0o644
        secret = out / "secret-spotify-ai-agent-database-secrets.yaml"
        assert secret.stat().st_mode & 0o777 == 0o600
        resources = yaml.safe_load((out / "kustomization.yaml").read_text())["resources"]
        assert sorted(resources) == sorted(p.name for p in out.glob("*-*.yaml"))
        assert resources[0].startswith("secret-") and resources[-1].startswith("configmap-")

    def test_external_secrets_hold_no_value(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """With external secrets, ExternalSecret manifests replace the Secret files."""
        out = tmp_path / "deploy"
        deploy(out, scope, make_desired(external=True, secrets={"DB_PASSWORD": "never-written-anywhere"}))
        assert not list(out.glob("secret-*")) and list(out.glob("externalsecret-*.yaml"))
        assert all("never-written-anywhere" not in p.read_text() for p in out.iterdir())

    def test_hashed_configmaps_keep_the_newest_versions(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """With immutable names, the previous hashed file stays listed until N is exceeded."""
        out = tmp_path / "deploy"
        for size in (10, 11, 12):
            deploy(out, scope, make_desired(sets=(f"DB_POOL_SIZE={size}",), immutable=True), keep_hashed=2)
        hashed = sorted(p.name for p in out.glob("configmap-spotify-ai-agent-database-config-*.yaml"))
        assert len(hashed) == 2
        assert set(hashed) <= set(yaml.safe_load((out / "kustomization.yaml").read_text())["resources"])
        pool_sizes = {yaml.safe_load((out / name).read_text())["data"]["DB_POOL_SIZE"] for name in hashed}
        assert pool_sizes == {"11", "12"}


class TestOwnership:
    """PATH belongs to one tierconf scope."""

    def test_refuses_a_directory_it_did_not_write(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """A non-empty directory without the marker is left untouched."""
        out = tmp_path / "deploy"
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        with pytest.raises(DeployError, match="not written by tierconf"):
            deploy(out, scope, make_desired())
        assert [p.name for p in out.iterdir()] == ["notes.txt"]

    def test_refuses_another_scope(self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory) -> None:
        """A tenant cannot be deployed over the tier's directory."""
        out = tmp_path / "deploy"
        deploy(out, scope, make_desired())
        acme = Scope(scope.app, scope.tier, "acme", scope.namespace)
        with pytest.raises(DeployError, match="own directory"):
            deploy(out, acme, make_desired(target_scope=acme, workloads=()))

    def test_unparseable_file_names_file_and_line(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """A deployed file broken by hand is reported with its path and line."""
        out = tmp_path / "deploy"
        deploy(out, scope, make_desired())
        (out / "configmap-spotify-ai-agent-config.yaml").write_text("data:\n  A: [unclosed\n")
        with pytest.raises(DeployError, match=r"configmap-spotify-ai-agent-config.yaml:\d+: not valid YAML"):
            DirectoryTarget(out, scope).read_live()


class TestAtomicSwap:
    """The tree is replaced in one step."""

    def test_exchange_swaps_two_directories(self, tmp_path: Path) -> None:
        """renameat2(RENAME_EXCHANGE) swaps two directories in place (Linux)."""
        first, second = tmp_path / "a", tmp_path / "b"
        first.mkdir()
        second.mkdir()
        (first / "f").write_text("1")
        if not _exchange(first, second):
            pytest.skip("this file system has no RENAME_EXCHANGE; the rename fallback is used")
        assert (second / "f").read_text() == "1" and not (first / "f").exists()

    def test_fallback_without_exchange_still_replaces_the_tree(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Where the exchange is unavailable, rename-aside-then-in gives the same result."""
        monkeypatch.setattr("tierconf.targets._directory._exchange", lambda a, b: False)
        out = tmp_path / "deploy"
        deploy(out, scope, make_desired())
        deploy(out, scope, make_desired(sets=("DB_POOL_SIZE=33",)))
        text = (out / "configmap-spotify-ai-agent-database-config.yaml").read_text()
        assert "DB_POOL_SIZE: '33'" in text
        assert sorted(p.name for p in tmp_path.iterdir()) == ["deploy", "state"]

    def test_a_reader_never_sees_half_a_deploy(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """A reader holding PATH open sees the marker and the files of one deploy, never a mix."""
        out = tmp_path / "deploy"
        versions = {size: make_desired(sets=(f"DB_POOL_SIZE={size}",)) for size in (21, 22)}
        expected = {d.checksum: f"DB_POOL_SIZE: '{size}'" for size, d in versions.items()}
        deploy(out, scope, versions[21])
        seen: list[tuple[str, str]] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                try:
                    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
                except FileNotFoundError:
                    continue
                try:
                    marker = yaml.safe_load(_read_at(fd, MARKER))["checksum"]
                    data = _read_at(fd, "configmap-spotify-ai-agent-database-config.yaml")
                    seen.append((marker, data))
                except (FileNotFoundError, TypeError):
                    pass  # the old tree was removed under the reader: it retries
                finally:
                    os.close(fd)

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for index in range(12):
                deploy(out, scope, versions[21 + index % 2])
        finally:
            stop.set()
            thread.join()
        assert seen
        for checksum, data in seen:
            assert expected[checksum] in data


def _read_at(fd: int, name: str) -> str:
    handle = os.open(name, os.O_RDONLY, dir_fd=fd)
    with os.fdopen(handle) as stream:
        return stream.read()


class TestCommit:
    """--commit inside a git work tree."""

    def test_commit_records_the_revision(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One commit per change of PATH, naming the revision; an unchanged deploy commits nothing."""
        for name, value in {
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }.items():
            monkeypatch.setenv(name, value)
        repo = tmp_path / "repo"
        repo.mkdir()
        git(repo, "init", "-q")
        desired = make_desired(external=True)
        target = DirectoryTarget(repo / "deploy" / "dev", scope, TargetOptions(commit=True))
        result = target.apply(target.plan(desired).for_revision(7, "first"))
        assert any("committed" in note for note in result.notes)
        log = git(repo, "log", "--format=%s%n%b")
        assert "tierconf deploy: development revision 7" in log and "first" in log
        again = target.apply(target.plan(desired).for_revision(7))
        assert any("nothing to commit" in note for note in again.notes)
        assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"

    def test_commit_refuses_secret_values(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """Inline Secrets would enter git history: the plan is blocked, nothing is written."""
        repo = tmp_path / "repo"
        repo.mkdir()
        git(repo, "init", "-q")
        target = DirectoryTarget(repo / "deploy", scope, TargetOptions(commit=True))
        plan = target.plan(make_desired())
        assert plan.blockers and "--secrets external" in plan.blockers[0]
        with pytest.raises(DeployError):
            target.apply(plan)
        assert not (repo / "deploy").exists()

    def test_commit_outside_git_is_blocked(
        self, tmp_path: Path, scope: Scope, make_desired: DesiredFactory
    ) -> None:
        """--commit needs PATH inside a work tree."""
        target = DirectoryTarget(tmp_path / "deploy", scope, TargetOptions(commit=True))
        plan = target.plan(make_desired(external=True))
        assert plan.blockers and "not inside a git work tree" in plan.blockers[0]
