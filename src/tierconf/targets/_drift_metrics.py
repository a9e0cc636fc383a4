"""Drift as Prometheus metrics: what the shipped dashboard's drift panel and the
``TierconfDriftDetected`` alert read.

``tierconf drift --every SECONDS --metrics-port PORT`` runs the check in a loop and serves
these on ``/metrics``; ``--metrics-file PATH`` writes them in the text format for
node_exporter's textfile collector (atomically, so a scrape never reads half a file),
which suits a CronJob running one check at a time::

    tierconf_drift_detected{environment,tenant,target}                 1 drifted, 0 in sync
    tierconf_drift_changes{environment,tenant,target}                  drifted KEYs
    tierconf_drift_last_check_timestamp_seconds{environment,tenant,target}
    tierconf_drift_check_errors_total{environment,tenant,target}       checks that could not run

A check that fails (target or store unreachable) leaves the last result in place and
counts an error, so an outage is an error rate on the dashboard, not a false "in sync".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tierconf.errors import missing_extra

from ._plan import DriftReport

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


@dataclass(frozen=True)
class DriftLabels:
    """The labels of one checked scope (an absent tenant is the empty string)."""

    environment: str
    tenant: str
    target: str

    def values(self) -> tuple[str, str, str]:
        """In label order."""
        return (self.environment, self.tenant, self.target)


class DriftMetrics:
    """The drift metrics of one check loop, in a registry of their own.

    Raises:
        DependencyMissingError: prometheus-client is missing (``pip install 'tierconf[runtime]'``).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Gauge
        except ImportError as exc:
            raise missing_extra("prometheus-client", "runtime") from exc
        self.registry = registry if registry is not None else CollectorRegistry()
        labels = ("environment", "tenant", "target")
        self._detected = Gauge(
            "tierconf_drift_detected",
            "1 when the live target differs from the last deployed revision, 0 when in sync.",
            labels,
            registry=self.registry,
        )
        self._changes = Gauge(
            "tierconf_drift_changes",
            "KEYs that differ from the desired state.",
            labels,
            registry=self.registry,
        )
        self._checked = Gauge(
            "tierconf_drift_last_check_timestamp_seconds",
            "Unix time of the last drift check that ran.",
            labels,
            registry=self.registry,
        )
        self._errors = Counter(
            "tierconf_drift_check_errors",
            "Drift checks that could not run (target or revision store unreachable).",
            labels,
            registry=self.registry,
        )

    def observed(self, labels: DriftLabels, report: DriftReport, at: float) -> None:
        """Record one check's result."""
        values = labels.values()
        self._detected.labels(*values).set(1 if report.drift else 0)
        self._changes.labels(*values).set(len(report.items))
        self._checked.labels(*values).set(at)
        self._errors.labels(*values)  # present (at 0) from the first check on

    def failed(self, labels: DriftLabels) -> None:
        """Count a check that could not run; the last result stays."""
        self._errors.labels(*labels.values()).inc()

    def write_textfile(self, path: Path) -> None:
        """Write every metric to ``path`` in the text format (temp file, then rename)."""
        from prometheus_client import write_to_textfile

        write_to_textfile(str(path), self.registry)

    def serve(self, port: int, addr: str) -> None:
        """Serve ``/metrics`` on ``addr:port`` from a daemon thread.

        Raises:
            OSError: the port is taken or the address is not local.
        """
        from prometheus_client import start_http_server

        start_http_server(port, addr=addr, registry=self.registry)

