"""End to end: ``tierconf drift`` as the check behind the dashboard's drift panel and the
TierconfDriftDetected alert (``--every``, ``--metrics-port``, ``--metrics-file``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from servers import free_port
from support import run_cli

pytestmark = pytest.mark.e2e

WAIT = 30.0


def sample(text: str, name: str) -> float | None:
    """The value of the one sample ``name{...}`` in a text exposition, None when absent."""
    for line in text.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait_for(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def edit_pool_size(gitops: Path, value: str) -> None:
    db = gitops / "configmap-spotify-ai-agent-database-config.yaml"
    manifest = yaml.safe_load(db.read_text())
    manifest["data"]["DB_POOL_SIZE"] = value
    db.write_text(yaml.safe_dump(manifest))


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERCONF_SECRET_")}
    return subprocess.Popen(
        [sys.executable, "-m", "tierconf", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=WAIT)
    return process.returncode, stdout, stderr


class TestDriftMetrics:
    def test_one_check_writes_the_textfile(self, tmp_path: Path) -> None:
        """A CronJob-style check: the textfile says 0 in sync, 1 (and the count) drifted."""
        gitops, prom = tmp_path / "gitops", tmp_path / "drift.prom"
        assert run_cli("deploy", "-e", "dev", "--target", f"dir:{gitops}", cwd=tmp_path).returncode == 0
        check = ("drift", "-e", "dev", "--target", f"dir:{gitops}", "--metrics-file", str(prom))
        result = run_cli(*check, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert sample(prom.read_text(), "tierconf_drift_detected") == 0
        edit_pool_size(gitops, "99")
        result = run_cli(*check, cwd=tmp_path)
        assert result.returncode == 3
        text = prom.read_text()
        assert sample(text, "tierconf_drift_detected") == 1
        assert sample(text, "tierconf_drift_changes") == 1
        assert f'environment="development",target="dir:{gitops}",tenant=""' in text
        assert not list(tmp_path.glob("drift.prom.*"))  # written through a temp file, renamed

    def test_one_failed_check_is_in_the_textfile(self, tmp_path: Path) -> None:
        """A CronJob-style check that cannot reach its target exits 1 with one line and
        leaves a textfile that says so (an error, no invented drift value)."""
        prom = tmp_path / "drift.prom"
        target = f"etcd://127.0.0.1:{free_port()}?timeout=0.1"
        result = run_cli(
            "drift", "-e", "dev", "--target", target, "--render", "--metrics-file", str(prom), cwd=tmp_path
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert sample(prom.read_text(), "tierconf_drift_check_errors_total") == 1
        assert sample(prom.read_text(), "tierconf_drift_detected") is None

    def test_every_serves_metrics_until_stopped(self, tmp_path: Path) -> None:
        """A long-running check: /metrics follows drift and its healing; each change of
        state is printed once; SIGTERM stops it with exit 0; no secret is printed."""
        gitops, port = tmp_path / "gitops", free_port()
        assert run_cli("deploy", "-e", "dev", "--target", f"dir:{gitops}", cwd=tmp_path).returncode == 0
        args = ["drift", "-e", "dev", "--target", f"dir:{gitops}", "--every", "0.2"]
        process = start([*args, "--metrics-port", str(port), "--metrics-addr", "127.0.0.1"], tmp_path)

        def detected() -> float | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    return sample(response.read().decode(), "tierconf_drift_detected")
            except OSError:
                return None

        try:
            wait_for(lambda: detected() == 0, "in sync")
            edit_pool_size(gitops, "99")
            wait_for(lambda: detected() == 1, "drift detected")
            assert run_cli("deploy", "-e", "dev", "--target", f"dir:{gitops}", cwd=tmp_path).returncode == 0
            wait_for(lambda: detected() == 0, "drift healed")
        finally:
            code, stdout, stderr = stop(process)
        assert code == 0, stderr
        reports = [line for line in stdout.splitlines() if line.startswith("development on")]
        assert len(reports) == 3, stdout
        assert reports[0].endswith("no drift") and "1 drifted key(s)" in reports[1]
        assert reports[2].endswith("no drift")
        secrets = (tmp_path / ".tierconf" / "secrets").glob("*.json")
        for state in secrets:
            for value in yaml.safe_load(state.read_text()).values():
                assert str(value) not in stdout + stderr

    def test_a_failing_check_is_counted_and_the_loop_goes_on(self, tmp_path: Path) -> None:
        """An unreachable target: one error line (not one per check), the error counter
        climbs, no drift value is invented, and the process keeps checking."""
        prom = tmp_path / "drift.prom"
        target = f"etcd://127.0.0.1:{free_port()}?timeout=0.1"
        args = ["drift", "-e", "dev", "--target", target, "--render", "--every", "0.1"]
        process = start([*args, "--metrics-file", str(prom)], tmp_path)

        def failures() -> float:
            if not prom.exists():
                return 0
            return sample(prom.read_text(), "tierconf_drift_check_errors_total") or 0

        try:
            wait_for(lambda: failures() >= 2, "two failed checks")
            assert sample(prom.read_text(), "tierconf_drift_detected") is None
            assert process.poll() is None
        finally:
            code, _, stderr = stop(process)
        assert code == 0
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "drift check failed" in errors[0] and "Traceback" not in stderr

    def test_metrics_port_needs_every(self, tmp_path: Path) -> None:
        result = run_cli("drift", "-e", "dev", "--target", "dir:x", "--metrics-port", "9999", cwd=tmp_path)
        assert result.returncode == 2
        assert "--every" in result.stderr and "Traceback" not in result.stderr


class TestBadInput:
    def test_metrics_file_in_a_missing_directory_is_a_usage_error(self, tmp_path: Path) -> None:
        result = run_cli(
            "drift",
            "-e",
            "dev",
            "--target",
            f"dir:{tmp_path}/g",
            "--render",
            "--metrics-file",
            str(tmp_path / "nowhere" / "drift.prom"),
            cwd=tmp_path,
        )
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "nowhere does not exist" in result.stderr

    def test_unwritable_metrics_file_is_one_line(self, tmp_path: Path) -> None:
        """A file that cannot be written (/proc takes no new files, even for root) is one
        error line, exit 1."""
        gitops = tmp_path / "gitops"
        assert run_cli("deploy", "-e", "dev", "--target", f"dir:{gitops}", cwd=tmp_path).returncode == 0
        check = ("drift", "-e", "dev", "--target", f"dir:{gitops}", "--metrics-file", "/proc/drift.prom")
        result = run_cli(*check, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and errors[0].startswith("error: cannot write /proc/drift.prom:")
