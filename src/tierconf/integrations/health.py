"""One health report over every configured dependency, probed concurrently, bounded in time.

``health_report(snapshot, secrets)`` probes the PostgreSQL primary, the read replica (when
enabled), Redis, MongoDB and ElasticSearch at once, each on a fresh short-lived connection,
and returns within ``monitoring.health.readiness_timeout`` seconds whatever the network
does: a probe that has not answered by then is reported as ``timeout``. The result::

    {"status": "pass" | "warn" | "fail",        # warn: only optional dependencies are down
     "ready": bool,                              # every required dependency is up
     "live": true,                               # dependencies never make a pod "dead"
     "checked_at": "2025-01-01T12:00:00+00:00",
     "timeout_seconds": 5.0,
     "checks": {"postgres": {"status": "up" | "down" | "timeout", "healthy": bool,
                             "required": bool, "target": "host:port",
                             "latency_ms": 3.1, "error": null, ...details}, ...}}

Liveness is deliberately independent of the dependencies: restarting a pod does not fix a
database, and failing liveness on one would restart every pod at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tierconf.errors import DependencyMissingError
from tierconf.integrations._live import SecretLookup, lookup_secret
from tierconf.integrations._probe import Probe, ProbeResult
from tierconf.schema import TierConfig

__all__ = ["DependencyCheck", "dependency_checks", "health_report", "run_checks"]

#: Share of the report's timeout each probe gets as its own budget.
_PROBE_SHARE = 0.8


@dataclass(frozen=True)
class DependencyCheck:
    """One dependency to probe.

    Attributes:
        name: Key in the report (``postgres``, ``redis``...).
        target: What is probed, for the report when the probe never answers.
        probe: Called with the time budget in seconds.
        required: Whether the pod is unready while it is down (the replica is not: reads
            fall back to the primary).
    """

    name: str
    target: str
    probe: Probe
    required: bool = True


def _missing(error: DependencyMissingError, target: str) -> Probe:
    def probe(budget: float) -> ProbeResult:
        return ProbeResult(target, "down", 0.0, error.message)

    return probe


def _postgres_checks(
    snapshot: TierConfig, secrets: SecretLookup, tenant: str | None
) -> list[DependencyCheck]:
    settings = snapshot.database.postgres
    target = f"{settings.host}:{settings.port}"
    try:
        from tierconf.integrations.postgres import engine_specs, probe_postgres, probe_replica
    except DependencyMissingError as exc:
        return [DependencyCheck("postgres", target, _missing(exc, target))]
    specs = engine_specs(settings, password=lookup_secret(secrets, "DB_PASSWORD"), tenant=tenant)
    primary, replica = specs.primary, specs.replica
    checks = [DependencyCheck("postgres", primary.target, lambda budget: probe_postgres(primary, budget))]
    if replica is not None:
        max_lag = settings.read_replica.max_lag_seconds
        checks.append(
            DependencyCheck(
                "postgres_replica",
                replica.target,
                lambda budget: probe_replica(replica, budget, max_lag_seconds=max_lag),
                required=False,
            )
        )
    return checks


def _redis_check(snapshot: TierConfig, secrets: SecretLookup) -> DependencyCheck:
    settings = snapshot.database.redis
    target = f"{settings.host}:{settings.port}/{settings.db}"
    try:
        from tierconf.integrations.redis import probe_redis, redis_specs
    except DependencyMissingError as exc:
        return DependencyCheck("redis", target, _missing(exc, target))
    spec = redis_specs(settings, password=lookup_secret(secrets, "REDIS_PASSWORD")).cache
    return DependencyCheck("redis", spec.target, lambda budget: probe_redis(spec, budget))


def _mongo_check(snapshot: TierConfig, secrets: SecretLookup) -> DependencyCheck:
    settings = snapshot.database.mongodb
    target = f"{settings.host}:{settings.port}"
    try:
        from tierconf.integrations.mongo import mongo_spec, probe_mongo
    except DependencyMissingError as exc:
        return DependencyCheck("mongodb", target, _missing(exc, target))
    spec = mongo_spec(settings, password=lookup_secret(secrets, "MONGO_PASSWORD"))
    return DependencyCheck("mongodb", spec.target, lambda budget: probe_mongo(spec, budget))


def _elasticsearch_check(snapshot: TierConfig, secrets: SecretLookup) -> DependencyCheck:
    settings = snapshot.database.elasticsearch
    target = f"{settings.scheme}://{settings.host}:{settings.port}"
    try:
        from tierconf.integrations.elasticsearch import elasticsearch_spec, probe_elasticsearch
    except DependencyMissingError as exc:
        return DependencyCheck("elasticsearch", target, _missing(exc, target))
    spec = elasticsearch_spec(settings, password=lookup_secret(secrets, "ELASTICSEARCH_PASSWORD"))
    return DependencyCheck("elasticsearch", spec.target, lambda budget: probe_elasticsearch(spec, budget))


def dependency_checks(
    snapshot: TierConfig, secrets: SecretLookup, *, tenant: str | None = None
) -> list[DependencyCheck]:
    """The checks of every dependency ``snapshot`` configures (no I/O until a probe runs).

    A client library that is not installed gives a check that reports it as ``down`` with
    the install hint, instead of failing the whole report.
    """
    return [
        *_postgres_checks(snapshot, secrets, tenant),
        _redis_check(snapshot, secrets),
        _mongo_check(snapshot, secrets),
        _elasticsearch_check(snapshot, secrets),
    ]


def _guarded(probe: Probe, target: str) -> Callable[[float], ProbeResult]:
    def run(budget: float) -> ProbeResult:
        try:
            return probe(budget)
        except Exception as exc:  # noqa: BLE001 - a broken probe is reported as down, never raised
            return ProbeResult(target, "down", 0.0, f"probe failed: {type(exc).__name__}: {exc}")

    return run


def run_checks(checks: Sequence[DependencyCheck], *, timeout: float) -> dict[str, Any]:
    """Run ``checks`` concurrently; return the report after at most about ``timeout`` seconds.

    Each probe runs in its own daemon thread with 80% of ``timeout`` as its budget, so a
    probe that gives up on its own reports why before the deadline; one still running at the
    deadline is reported as ``timeout`` and left to finish on its own.
    """
    results: dict[str, ProbeResult] = {}
    finished = threading.Condition()
    budget = timeout * _PROBE_SHARE

    def run(check: DependencyCheck) -> None:
        result = _guarded(check.probe, check.target)(budget)
        with finished:
            results[check.name] = result
            finished.notify_all()

    deadline = time.monotonic() + timeout
    for check in checks:
        threading.Thread(target=run, args=(check,), name=f"tierconf-health-{check.name}", daemon=True).start()
    with finished:
        while len(results) < len(checks) and (remaining := deadline - time.monotonic()) > 0:
            finished.wait(remaining)
        answered = dict(results)

    report: dict[str, dict[str, object]] = {}
    for check in checks:
        result = answered.get(check.name) or ProbeResult(
            check.target, "timeout", timeout * 1000, f"no answer within {timeout:g} s"
        )
        report[check.name] = {**result.as_dict(), "required": check.required}
    ready = all(entry["healthy"] for entry in report.values() if entry["required"])
    everything = all(entry["healthy"] for entry in report.values())
    return {
        "status": "pass" if everything else "warn" if ready else "fail",
        "ready": ready,
        "live": True,
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "timeout_seconds": timeout,
        "checks": report,
    }


def health_report(
    snapshot: TierConfig,
    secrets: SecretLookup,
    *,
    tenant: str | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Probe every dependency ``snapshot`` configures, concurrently; see the module docstring.

    Args:
        snapshot: The configuration (``live.snapshot()``).
        secrets: ``live.secret``, or any ``KEY -> value`` lookup for the passwords.
        tenant: Shown in PostgreSQL's ``application_name`` of the probe connections.
        timeout: Seconds for the whole report (default: ``monitoring.health.readiness_timeout``).
    """
    bound = float(timeout if timeout is not None else snapshot.monitoring.health.readiness_timeout)
    return run_checks(dependency_checks(snapshot, secrets, tenant=tenant), timeout=bound)
