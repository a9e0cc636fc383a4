"""End to end: the CLI on a real etcd, as a platform team runs it (subprocess):
``--store etcd://`` for release/history/diff/rollback/audit, ``deploy --target etcd://``,
``drift`` against it, a LiveConfig following what was deployed, secrets kept out."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from support import run_cli
from tierconf.runtime import LiveConfig, RuntimeOptions

pytestmark = pytest.mark.e2e


def generated_secrets(cwd: Path) -> list[str]:
    state = cwd / ".tierconf" / "secrets" / "spotify-ai-agent-development.json"
    return [str(v) for v in json.loads(state.read_text()).values()]


def test_release_deploy_drift_and_follow_on_etcd(etcd_server, tmp_path: Path) -> None:
    url = f"etcd://{etcd_server.endpoint.split('://')[1]}?prefix=/e2e-{uuid.uuid4().hex[:8]}"
    store = ("--store", url)
    runs: list[subprocess.CompletedProcess[str]] = []

    def cli(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, cwd=tmp_path)
        runs.append(result)
        assert result.returncode == code, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        return result

    cli("release", "-e", "dev", "-m", "one", *store)
    cli("release", "-e", "dev", "-m", "two", "--set", "DB_POOL_SIZE=7", *store)
    history = json.loads(cli("history", "-e", "dev", "--format", "json", *store).stdout)
    assert [(h["revision"], h["message"]) for h in history] == [(1, "one"), (2, "two")]
    assert "+DB_POOL_SIZE=7" in cli("diff", "1", "2", "-e", "dev", *store).stdout

    deployed = cli("deploy", "-e", "dev", "--set", "DB_POOL_SIZE=7", "--target", url, *store)
    assert "deployed development revision 2" in deployed.stdout
    assert "only their fingerprints" in deployed.stdout + deployed.stderr
    assert "no drift" in cli("drift", "-e", "dev", "--target", url, *store).stdout

    options = RuntimeOptions(registry=CollectorRegistry(), poll_interval=2.0)
    with LiveConfig.from_etcd(url, environment="development", options=options) as live:
        assert live.revision == "2"
        assert live.snapshot().database.postgres.pool_size == 7

    refused = cli("deploy", "-e", "dev", "--target", url, "--publish-secrets", *store, code=1)
    assert "--publish-secrets refused" in refused.stderr
    rolled = cli("rollback", "1", "-e", "dev", *store)
    assert "recorded revision" in rolled.stdout
    assert "intact" in cli("audit", "verify", *store).stdout
    for result in runs:
        for value in generated_secrets(tmp_path):
            assert value not in result.stdout and value not in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "etcd://",
        "etcd://127.0.0.1:notaport",
        "etcd://127.0.0.1:2379?timeout=abc",
        "etcd://h:1?bogus=1",
        "foo://x",
        "sqlite:///",
    ],
)
def test_a_malformed_store_url_is_a_usage_error(url: str, tmp_path: Path) -> None:
    """Exit 2 (CONTRACT: command-line usage error), one line naming the URL, nothing written."""
    result = run_cli("release", "-e", "dev", "--store", url, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "store URL" in errors[0] and "Traceback" not in result.stderr
    assert not (tmp_path / ".tierconf" / "store.db").exists()
