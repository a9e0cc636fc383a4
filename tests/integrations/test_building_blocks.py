"""The server-free parts: the live twin, leases, the rotation state machine, the probe runner."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

import tierconf.integrations
from tierconf.errors import SecretError, TierconfError
from tierconf.integrations import (
    ClientClosedError,
    DependencyCheck,
    InMemoryLiveConfig,
    ProbeResult,
    run_checks,
)
from tierconf.integrations._lease import Leased
from tierconf.integrations._metrics import client_metrics
from tierconf.integrations._replica import ReplicaRotation
from tierconf.schema import TierConfig


class TestPublicApi:
    """tierconf.integrations.__all__ is its contract."""

    def test_every_exported_name_resolves(self) -> None:
        """Each name in __all__ is importable from the package."""
        for name in tierconf.integrations.__all__:
            assert getattr(tierconf.integrations, name) is not None, name


class TestMissingExtras:
    """Without a client library, its module says how to install it and the health report goes on."""

    def test_import_names_the_extra_and_health_reports_it(self) -> None:
        """Without pymongo and SQLAlchemy, imports raise the install hint and the checks report it as down."""
        code = (
            "import json, sys\n"
            "sys.modules['pymongo'] = None\n"
            "sys.modules['sqlalchemy'] = None\n"
            "from tierconf.errors import DependencyMissingError\n"
            "try:\n"
            "    import tierconf.integrations.postgres\n"
            "except DependencyMissingError as exc:\n"
            "    hint = str(exc)\n"
            "from tierconf.integrations.health import dependency_checks\n"
            "from tierconf.schema import TierConfig\n"
            "checks = {c.name: c.probe(1.0) for c in dependency_checks(TierConfig(), {}.__getitem__)\n"
            "          if c.name in ('postgres', 'mongodb')}\n"
            "print(json.dumps({'hint': hint, **{k: [v.status, v.error] for k, v in checks.items()}}))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        result = json.loads(out.stdout)
        assert "pip install 'tierconf[integrations]'" in result["hint"]
        for name in ("postgres", "mongodb"):
            status, error = result[name]
            assert status == "down" and "tierconf[integrations]" in error


class TestInMemoryLiveConfig:
    """The twin of the runtime: snapshots, subscribers, secrets."""

    def test_update_swaps_a_validated_snapshot(self) -> None:
        """update() replaces the settings at the given paths and keeps the rest."""
        live = InMemoryLiveConfig(TierConfig())
        new = live.update({"database.postgres.pool_size": 3})
        assert live.snapshot() is new and new.database.postgres.pool_size == 3
        assert new.database.redis == TierConfig().database.redis

    def test_update_rejects_out_of_bounds_values_and_unknown_paths(self) -> None:
        """A value the schema refuses, or a path it does not have, leaves the snapshot as it was."""
        live = InMemoryLiveConfig(TierConfig())
        before = live.snapshot()
        with pytest.raises(ValidationError):
            live.update({"database.postgres.pool_size": 0})
        with pytest.raises(TierconfError, match="no setting 'pool'"):
            live.update({"database.postgres.pool": 3})
        assert live.snapshot() is before

    def test_subscribers_hear_only_changes_under_their_path(self) -> None:
        """A change of redis settings calls the redis subscriber, not the postgres one."""
        live = InMemoryLiveConfig(TierConfig())
        heard: list[str] = []
        live.subscribe(lambda old, new: heard.append("postgres"), path="database.postgres")
        live.subscribe(lambda old, new: heard.append("redis"), path="database.redis")
        live.update({"database.redis.db": 4})
        assert heard == ["redis"]

    def test_a_failing_subscriber_does_not_stop_the_others(self, caplog: pytest.LogCaptureFixture) -> None:
        """The exception is logged and the next subscriber still runs."""
        live = InMemoryLiveConfig(TierConfig())
        heard: list[int] = []

        def broken(old: TierConfig, new: TierConfig) -> None:
            raise RuntimeError("boom")

        live.subscribe(broken)
        live.subscribe(lambda old, new: heard.append(new.database.redis.db))
        with caplog.at_level(logging.ERROR, logger="tierconf.integrations"):
            live.update({"database.redis.db": 5})
        assert heard == [5] and "boom" in caplog.text

    def test_cancelled_subscription_is_not_called(self) -> None:
        """cancel() stops further calls."""
        live = InMemoryLiveConfig(TierConfig())
        heard: list[int] = []
        live.subscribe(lambda old, new: heard.append(1)).cancel()
        live.update({"database.redis.db": 6})
        assert heard == [] and live.subscriber_count == 0

    def test_missing_secret_is_a_secret_error(self) -> None:
        """secret() of an unset KEY raises SecretError, as the runtime does."""
        live = InMemoryLiveConfig(TierConfig(), {"DB_PASSWORD": "pw"})
        assert live.secret("DB_PASSWORD") == "pw"
        with pytest.raises(SecretError):
            live.secret("REDIS_PASSWORD")


class TestLeased:
    """Swapped values are disposed once, after their last lease."""

    def test_value_is_disposed_when_its_last_lease_returns(self) -> None:
        """A value leased during a swap stays usable and is disposed at release."""
        disposed: list[str] = []
        leased = Leased("old", disposed.append, name="thing")
        lease = leased.acquire()
        leased.swap("new")
        assert (lease.value, leased.current, leased.retired_pending, disposed) == ("old", "new", 1, [])
        lease.release()
        lease.release()
        assert (leased.retired_pending, disposed) == (0, ["old"])

    def test_idle_value_is_disposed_at_swap(self) -> None:
        """Without leases out, swap disposes the old value at once."""
        disposed: list[str] = []
        leased = Leased("old", disposed.append, name="thing")
        with leased.lease() as value:
            assert value == "old"
        leased.swap("new")
        assert disposed == ["old"]

    def test_close_refuses_new_leases(self) -> None:
        """After close() acquire and swap raise ClientClosedError; the value is disposed once."""
        disposed: list[str] = []
        leased = Leased("only", disposed.append, name="thing")
        leased.close()
        leased.close()
        with pytest.raises(ClientClosedError, match="thing is closed"):
            leased.acquire()
        with pytest.raises(ClientClosedError):
            leased.swap("other")
        assert disposed == ["only"]

    def test_concurrent_leases_and_swaps_dispose_every_value_exactly_once(self) -> None:
        """Eight threads leasing during 200 swaps: every retired value disposed once, none while leased."""
        disposed: list[int] = []
        in_use: set[int] = set()
        broken: list[str] = []
        lock = threading.Lock()

        def dispose(value: int) -> None:
            with lock:
                if value in in_use:
                    broken.append(f"{value} disposed while leased")
                disposed.append(value)

        leased = Leased(0, dispose, name="counter")
        stop = threading.Event()

        def use() -> None:
            while not stop.is_set():
                lease = leased.acquire()
                with lock:
                    in_use.add(lease.value)
                with lock:
                    in_use.discard(lease.value)
                lease.release()

        threads = [threading.Thread(target=use) for _ in range(8)]
        for thread in threads:
            thread.start()
        for value in range(1, 201):
            leased.swap(value)
        stop.set()
        for thread in threads:
            thread.join()
        leased.close()
        assert broken == []
        assert sorted(disposed) == list(range(201))


class TestReplicaRotation:
    """The rotation state machine logs and counts every switch."""

    @staticmethod
    def result(status: str = "up", **details: object) -> ProbeResult:
        """A probe result of a replica."""
        return ProbeResult("r:5432", status, 1.0, None if status == "up" else "refused", details)  # type: ignore[arg-type]

    def test_switches_are_counted_and_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """Pending -> in -> out (lagging) -> in: two ins, one out, each in the metrics and the log."""
        registry = CollectorRegistry()
        rotation = ReplicaRotation("acme", client_metrics(registry))
        rotation.retarget("r:5432")
        assert not rotation.serves("r:5432")
        healthy = self.result(in_recovery=True, lag_seconds=0.0)
        with caplog.at_level(logging.INFO, logger="tierconf.integrations.postgres"):
            rotation.report_check("r:5432", healthy, started=0.0, max_lag=5)
            rotation.report_check(
                "r:5432", self.result("down", in_recovery=True, lag_seconds=9.0), started=0.0, max_lag=5
            )
            rotation.report_check("r:5432", healthy, started=0.0, max_lag=5)
        status = rotation.status()
        assert (status.in_rotation, status.changes_in, status.changes_out) == (True, 2, 1)
        assert "lag 9.0 s above the 5 s bound" in caplog.text and "in rotation again" in caplog.text
        labels = {"replica": "r:5432", "tenant": "acme"}
        assert registry.get_sample_value("tierconf_replica_in_rotation", labels) == 1
        assert (
            registry.get_sample_value(
                "tierconf_replica_rotation_changes_total", {**labels, "direction": "out", "reason": "lagging"}
            )
            == 1
        )

    def test_a_check_older_than_a_failed_read_does_not_readmit(self) -> None:
        """A healthy result from a check that began before a failed read is ignored."""
        rotation = ReplicaRotation("", client_metrics(CollectorRegistry()))
        rotation.retarget("r:5432")
        rotation.report_check(
            "r:5432", self.result(in_recovery=True, lag_seconds=0.0), started=0.0, max_lag=5
        )
        rotation.report_read_failure("r:5432", "read failed: connection lost")
        rotation.report_check(
            "r:5432", self.result(in_recovery=True, lag_seconds=0.0), started=0.0, max_lag=5
        )
        assert not rotation.status().in_rotation
        assert rotation.status().reason == "read failed: connection lost"

    def test_a_new_replica_starts_pending_and_drops_the_old_series(self) -> None:
        """retarget() forgets the old replica's gauge and waits for a check of the new one."""
        registry = CollectorRegistry()
        rotation = ReplicaRotation("", client_metrics(registry))
        rotation.retarget("a:1")
        rotation.report_check("a:1", self.result(in_recovery=True, lag_seconds=0.0), started=0.0, max_lag=5)
        rotation.retarget("b:2")
        assert (
            registry.get_sample_value("tierconf_replica_in_rotation", {"replica": "a:1", "tenant": ""})
            is None
        )
        assert (
            registry.get_sample_value("tierconf_replica_in_rotation", {"replica": "b:2", "tenant": ""}) == 0
        )
        assert rotation.status().reason == "pending first health check"
        rotation.report_check("a:1", self.result(in_recovery=True, lag_seconds=0.0), started=0.0, max_lag=5)
        assert not rotation.serves("b:2")


class TestRunChecks:
    """Probes run concurrently, bounded by the timeout, and shape the readiness report."""

    @staticmethod
    def up(target: str) -> ProbeResult:
        """An answering dependency."""
        return ProbeResult(target, "up", 1.0)

    def test_probes_run_concurrently(self) -> None:
        """Three probes that each wait for the other two all pass: they ran at the same time."""
        barrier = threading.Barrier(3, timeout=10)

        def probe(budget: float) -> ProbeResult:
            barrier.wait()
            return self.up("x")

        report = run_checks([DependencyCheck(name, "x", probe) for name in ("a", "b", "c")], timeout=10)
        assert report["status"] == "pass" and report["ready"] is True

    def test_a_probe_that_never_answers_is_a_timeout(self) -> None:
        """The report comes back at the deadline while the stuck probe still runs."""
        release = threading.Event()

        def stuck(budget: float) -> ProbeResult:
            release.wait(30)
            return self.up("stuck:1")

        try:
            report = run_checks(
                [
                    DependencyCheck("fast", "fast:1", lambda b: self.up("fast:1")),
                    DependencyCheck("stuck", "stuck:1", stuck),
                ],
                timeout=0.2,
            )
        finally:
            release.set()
        assert report["checks"]["fast"]["status"] == "up"
        assert report["checks"]["stuck"]["status"] == "timeout"
        assert report["checks"]["stuck"]["error"] == "no answer within 0.2 s"
        assert report["ready"] is False and report["status"] == "fail" and report["live"] is True

    def test_optional_dependency_down_warns_but_stays_ready(self) -> None:
        """A down replica (not required) gives status warn and ready true."""
        down = DependencyCheck(
            "postgres_replica", "r:1", lambda b: ProbeResult("r:1", "down", 1.0, "refused"), False
        )
        report = run_checks([DependencyCheck("postgres", "p:1", lambda b: self.up("p:1")), down], timeout=5)
        assert (report["status"], report["ready"]) == ("warn", True)
        assert report["checks"]["postgres_replica"]["required"] is False

    def test_a_raising_probe_is_reported_down(self) -> None:
        """A bug in a probe becomes a down entry, not an exception."""

        def broken(budget: float) -> ProbeResult:
            raise ValueError("bad probe")

        report = run_checks([DependencyCheck("broken", "b:1", broken)], timeout=5)
        assert report["checks"]["broken"]["status"] == "down"
        assert "bad probe" in report["checks"]["broken"]["error"]
