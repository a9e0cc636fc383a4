"""Prometheus metrics of the clients: replica routing state and client rebuilds.

prometheus_client is imported on first use. Without it (it comes with the ``runtime`` extra)
the metrics are a no-op and one line says so in the log; routing never depends on them.

Metric names (the Grafana dashboard and the alert rules in ``tierconf.dashboards`` use them)::

    tierconf_replica_in_rotation{replica, tenant}                      gauge 1 | 0
    tierconf_replica_lag_seconds{replica, tenant}                      gauge, last measured
    tierconf_replica_rotation_changes_total{replica, tenant, direction, reason}   counter
    tierconf_client_rebuilds_total{client}                              counter
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = [
    "METRIC_NAMES",
    "ClientMetrics",
    "Direction",
    "client_metrics",
]

_log = logging.getLogger("tierconf.integrations")

Direction = Literal["in", "out"]

METRIC_NAMES = (
    "tierconf_replica_in_rotation",
    "tierconf_replica_lag_seconds",
    "tierconf_replica_rotation_changes_total",
    "tierconf_client_rebuilds_total",
)


class ClientMetrics(Protocol):
    """What the clients record; :func:`client_metrics` gives the real or the no-op one."""

    def replica_state(self, replica: str, tenant: str, *, in_rotation: bool) -> None:
        """Set whether ``replica`` serves reads."""
        ...

    def replica_lag(self, replica: str, tenant: str, seconds: float) -> None:
        """Record the last measured replication lag."""
        ...

    def replica_change(self, replica: str, tenant: str, direction: Direction, reason: str) -> None:
        """Count one switch of ``replica`` into or out of rotation."""
        ...

    def replica_forget(self, replica: str, tenant: str) -> None:
        """Drop the series of a replica that is no longer configured."""
        ...

    def client_rebuilt(self, client: str) -> None:
        """Count one rebuild of a client after a configuration change."""
        ...


class _NoMetrics:
    def replica_state(self, replica: str, tenant: str, *, in_rotation: bool) -> None:
        pass

    def replica_lag(self, replica: str, tenant: str, seconds: float) -> None:
        pass

    def replica_change(self, replica: str, tenant: str, direction: Direction, reason: str) -> None:
        pass

    def replica_forget(self, replica: str, tenant: str) -> None:
        pass

    def client_rebuilt(self, client: str) -> None:
        pass


class _PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Gauge

        self._in_rotation = Gauge(
            "tierconf_replica_in_rotation",
            "1 when the PostgreSQL read replica serves reads, 0 when reads go to the primary.",
            ["replica", "tenant"],
            registry=registry,
        )
        self._lag = Gauge(
            "tierconf_replica_lag_seconds",
            "Replication lag of the read replica at its last health check.",
            ["replica", "tenant"],
            registry=registry,
        )
        self._changes = Counter(
            "tierconf_replica_rotation_changes_total",
            "Read replica switches into (direction=in) or out of (direction=out) rotation.",
            ["replica", "tenant", "direction", "reason"],
            registry=registry,
        )
        self._rebuilds = Counter(
            "tierconf_client_rebuilds_total",
            "Clients rebuilt after a configuration change touched their connection settings.",
            ["client"],
            registry=registry,
        )

    def replica_state(self, replica: str, tenant: str, *, in_rotation: bool) -> None:
        self._in_rotation.labels(replica, tenant).set(1 if in_rotation else 0)

    def replica_lag(self, replica: str, tenant: str, seconds: float) -> None:
        self._lag.labels(replica, tenant).set(seconds)

    def replica_change(self, replica: str, tenant: str, direction: Direction, reason: str) -> None:
        self._changes.labels(replica, tenant, direction, reason).inc()

    def replica_forget(self, replica: str, tenant: str) -> None:
        self._in_rotation.remove(replica, tenant)
        self._lag.remove(replica, tenant)

    def client_rebuilt(self, client: str) -> None:
        self._rebuilds.labels(client).inc()


_lock = threading.Lock()
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, ClientMetrics] = weakref.WeakKeyDictionary()
_warned = False


def client_metrics(registry: CollectorRegistry | None = None) -> ClientMetrics:
    """The metrics of the clients in ``registry`` (default: prometheus_client's global one).

    Created once per registry, so several routers in one process share the series.
    """
    global _warned  # noqa: PLW0603 - one warning per process, not per router
    try:
        from prometheus_client import REGISTRY
    except ImportError:
        if not _warned:
            _warned = True
            _log.warning(
                "prometheus_client is not installed: client metrics are off (pip install 'tierconf[runtime]')"
            )
        return _NoMetrics()
    target = REGISTRY if registry is None else registry
    with _lock:
        found = _by_registry.get(target)
        if found is None:
            found = _by_registry[target] = _PrometheusMetrics(target)
        return found
