"""End to end: ``tierconf deploy`` and ``drift`` as a user runs them (subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from k8s_fake import FakeKubeAPI, deployment
from support import run_cli

pytestmark = pytest.mark.e2e

NAMESPACE = "spotify-ai-agent-dev"
NO_CLUSTER_ENV = {"KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": "", "KUBERNETES_SERVICE_PORT": ""}


def generated_secrets(cwd: Path) -> list[str]:
    """The development secret values tierconf generated (and keeps) under ``cwd``."""
    state = cwd / ".tierconf" / "secrets" / "spotify-ai-agent-development.json"
    return [str(v) for v in json.loads(state.read_text()).values()]


def assert_no_secret(outputs: list[subprocess.CompletedProcess[str]], secrets: list[str]) -> None:
    """No secret value in any stdout or stderr."""
    assert secrets
    for result in outputs:
        for value in secrets:
            assert value not in result.stdout and value not in result.stderr


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``error:`` line of a failed run (and no traceback)."""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


class TestDirectoryTarget:
    """`deploy --target dir:PATH` then `drift`, on the bundled tree."""

    def test_deploy_drift_edit_heal(self, tmp_path: Path) -> None:
        """Clean drift after deploy; an edited KEY is exit 3 naming object and KEY; redeploy heals."""
        out = tmp_path / "gitops" / "dev"
        runs = [run_cli("deploy", "-e", "dev", "--target", f"dir:{out}", cwd=tmp_path)]
        assert runs[0].returncode == 0, runs[0].stderr
        assert "Plan: development" in runs[0].stdout and "deployed development revision 1" in runs[0].stdout
        runs.append(run_cli("drift", "-e", "dev", "--target", f"dir:{out}", "--format", "json", cwd=tmp_path))
        assert runs[-1].returncode == 0, runs[-1].stderr
        assert json.loads(runs[-1].stdout) == {**json.loads(runs[-1].stdout), "drift": False, "changes": []}

        db = out / "configmap-spotify-ai-agent-database-config.yaml"
        manifest = yaml.safe_load(db.read_text())
        manifest["data"]["DB_POOL_SIZE"] = "99"
        db.write_text(yaml.safe_dump(manifest))
        secret = out / "secret-spotify-ai-agent-security-secrets.yaml"
        doc = yaml.safe_load(secret.read_text())
        del doc["data"]["JWT_SECRET_KEY"]
        secret.write_text(yaml.safe_dump(doc))
        runs.append(run_cli("drift", "-e", "dev", "--target", f"dir:{out}", "--format", "json", cwd=tmp_path))
        assert runs[-1].returncode == 3, runs[-1].stderr
        report = json.loads(runs[-1].stdout)
        assert report["drift"] is True
        triples = {(c["object"], c["key"], c["change"]) for c in report["changes"]}
        assert triples == {
            ("ConfigMap/spotify-ai-agent-database-config", "DB_POOL_SIZE", "changed"),
            ("Secret/spotify-ai-agent-security-secrets", "JWT_SECRET_KEY", "removed"),
        }
        runs.append(run_cli("drift", "-e", "dev", "--target", f"dir:{out}", cwd=tmp_path))
        assert runs[-1].returncode == 3 and "DB_POOL_SIZE: changed (desired" in runs[-1].stdout

        runs.append(run_cli("deploy", "-e", "dev", "--target", f"dir:{out}", cwd=tmp_path))
        assert runs[-1].returncode == 0, runs[-1].stderr
        assert "~ ConfigMap/spotify-ai-agent-database-config" in runs[-1].stdout
        runs.append(run_cli("drift", "-e", "dev", "--target", f"dir:{out}", cwd=tmp_path))
        assert runs[-1].returncode == 0, runs[-1].stdout
        assert_no_secret(runs, generated_secrets(tmp_path))

    def test_files_are_valid_kubernetes_and_secrets_private(self, tmp_path: Path) -> None:
        """Every manifest passes kubernetes-validate (1.30, strict); Secret files are 0600."""
        out = tmp_path / "dev"
        result = run_cli("deploy", "-e", "dev", "--target", f"dir:{out}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        files = sorted(out.glob("*.yaml"))
        assert len(files) == 10
        for path in files:
            document = yaml.safe_load(path.read_text())
            if document.get("kind") in ("Kustomization", "ExternalSecret"):
                continue
            kubernetes_validate.validate(document, "1.30", strict=True)
            expected = 0o600 if document["kind"] == "Secret" else 0o644
            assert path.stat().st_mode & 0o777 == expected, path.name

    def test_external_secrets_with_a_git_commit(self, tmp_path: Path) -> None:
        """--secrets external writes ExternalSecrets; --commit records the revision in git."""
        repo = tmp_path / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        identity = {
            "GIT_AUTHOR_NAME": "ci",
            "GIT_AUTHOR_EMAIL": "ci@example.com",
            "GIT_COMMITTER_NAME": "ci",
            "GIT_COMMITTER_EMAIL": "ci@example.com",
        }
        result = run_cli(
            "deploy",
            "-e",
            "stg",
            "--target",
            f"dir:{repo / 'deploy' / 'staging'}",
            "--secrets",
            "external",
            "--commit",
            "-m",
            "first staging deploy",
            cwd=tmp_path,
            env=identity,
        )
        assert result.returncode == 0, result.stderr
        assert list((repo / "deploy" / "staging").glob("externalsecret-*.yaml"))
        log = subprocess.run(
            ["git", "log", "--format=%B"], cwd=repo, capture_output=True, text=True, check=True
        )
        assert "tierconf deploy: staging revision 1" in log.stdout and "first staging deploy" in log.stdout

    def test_dry_run_writes_nothing(self, tmp_path: Path) -> None:
        """--dry-run prints the plan; no directory, no revision."""
        result = run_cli(
            "deploy", "-e", "dev", "--target", f"dir:{tmp_path / 'out'}", "--dry-run", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert "+ ConfigMap/spotify-ai-agent-config" in result.stdout and "dry run" in result.stdout
        assert not (tmp_path / "out").exists() and not (tmp_path / ".tierconf" / "store.db").exists()

    def test_drift_before_any_deploy(self, tmp_path: Path) -> None:
        """Without a recorded deploy drift says so in one line; --render compares with a render."""
        target = f"dir:{tmp_path / 'none'}"
        result = run_cli("drift", "-e", "dev", "--target", target, cwd=tmp_path)
        assert result.returncode == 1 and "--render" in one_error_line(result)
        rendered = run_cli(
            "drift", "-e", "dev", "--target", target, "--render", "--format", "json", cwd=tmp_path
        )
        assert rendered.returncode == 3, rendered.stderr
        changes = json.loads(rendered.stdout)["changes"]
        assert {c["change"] for c in changes} == {"removed"} and len(changes) > 100


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeKubeAPI, dict[str, str]]]:
    """The fake API server with the namespace and workloads, and the env pointing at it."""
    with FakeKubeAPI() as fake:
        fake.create_namespace(NAMESPACE)
        fake.seed(deployment("spotify-ai-agent-api", NAMESPACE, config_refs=("spotify-ai-agent-config",)))
        config = fake.write_kubeconfig(tmp_path / "kube" / "config")
        yield fake, {**NO_CLUSTER_ENV, "KUBECONFIG": str(config), "HOME": str(tmp_path)}


class TestKubernetesTarget:
    """`deploy --target kubernetes` through the real client, against the fake API server."""

    def test_deploy_drift_conflict_force(
        self, tmp_path: Path, cluster: tuple[FakeKubeAPI, dict[str, str]]
    ) -> None:
        """Deploy; a kubectl edit is drift naming its manager; deploy conflicts; forced deploy heals."""
        fake, env = cluster
        runs = [run_cli("deploy", "-e", "dev", "--target", "kubernetes", cwd=tmp_path, env=env)]
        assert runs[0].returncode == 0, runs[0].stderr
        assert "~ Deployment/spotify-ai-agent-api" in runs[0].stdout and "1 workload rolled" in runs[0].stdout

        fake.edit("ConfigMap", NAMESPACE, "spotify-ai-agent-config", {"data": {"LOG_LEVEL": "CRITICAL"}})
        runs.append(
            run_cli("drift", "-e", "dev", "--target", "kubernetes", "--format", "json", cwd=tmp_path, env=env)
        )
        assert runs[-1].returncode == 3
        (change,) = json.loads(runs[-1].stdout)["changes"]
        assert change["object"] == "ConfigMap/spotify-ai-agent-config" and change["key"] == "LOG_LEVEL"
        assert change["manager"] == "kubectl-edit"

        runs.append(run_cli("deploy", "-e", "dev", "--target", "kubernetes", cwd=tmp_path, env=env))
        assert runs[-1].returncode == 1
        line = one_error_line(runs[-1])
        assert '"kubectl-edit"' in line and "--force-conflicts" in line

        runs.append(
            run_cli(
                "deploy", "-e", "dev", "--target", "kubernetes", "--force-conflicts", cwd=tmp_path, env=env
            )
        )
        assert runs[-1].returncode == 0, runs[-1].stderr
        runs.append(run_cli("drift", "-e", "dev", "--target", "kubernetes", cwd=tmp_path, env=env))
        assert runs[-1].returncode == 0, runs[-1].stdout
        assert_no_secret(runs, generated_secrets(tmp_path))

    def test_no_cluster_is_one_line_and_applies_nothing(self, tmp_path: Path) -> None:
        """No kubeconfig anywhere: exit 1, one line suggesting --target dir:PATH, nothing written."""
        result = run_cli(
            "deploy",
            "-e",
            "dev",
            "--target",
            "kubernetes",
            cwd=tmp_path,
            env={**NO_CLUSTER_ENV, "HOME": str(tmp_path)},
        )
        assert result.returncode == 1
        assert "--target dir:PATH" in one_error_line(result) and result.stdout == ""
        assert not (tmp_path / ".tierconf").exists()
        assert os.listdir(tmp_path) == []
