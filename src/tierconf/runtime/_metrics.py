"""Prometheus metrics of the runtime (prometheus_client, on a registry the caller picks).

Every series is labelled with ``environment`` and ``tenant`` (empty for none):

* ``tierconf_config_info{revision, checksum}``: 1 for the snapshot in use;
* ``tierconf_config_reloads_total{result}``: ``applied``, ``rejected``, ``unchanged``, or
  ``unavailable`` (the source could not be read);
* ``tierconf_config_reload_duration_seconds``: read + parse + validate + swap;
* ``tierconf_config_last_success_timestamp_seconds``: when the last update was applied;
* ``tierconf_config_subscriber_errors_total``: subscriber callbacks that raised.

prometheus_client refuses to register a metric name twice on one registry, so the metric
objects are created once per registry and shared by every LiveConfig using it; the labels
keep their series apart.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Literal

from tierconf.errors import missing_extra

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

ReloadResult = Literal["applied", "rejected", "unchanged", "unavailable"]
_LABELS = ("environment", "tenant")
#: Reloads take about a millisecond; buckets resolve 0.5 ms .. 2.5 s.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _Family:
    """The metric objects registered on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Gauge, Histogram, Info

        self.info: Info = Info(
            "tierconf_config", "The configuration snapshot in use.", _LABELS, registry=registry
        )
        self.reloads: Counter = Counter(
            "tierconf_config_reloads",
            "Configuration reloads by result.",
            (*_LABELS, "result"),
            registry=registry,
        )
        self.duration: Histogram = Histogram(
            "tierconf_config_reload_duration_seconds",
            "Time to read, validate and swap a configuration.",
            _LABELS,
            buckets=_BUCKETS,
            registry=registry,
        )
        self.last_success: Gauge = Gauge(
            "tierconf_config_last_success_timestamp_seconds",
            "Unix time of the last applied configuration.",
            _LABELS,
            registry=registry,
        )
        self.subscriber_errors: Counter = Counter(
            "tierconf_config_subscriber_errors",
            "Subscriber callbacks that raised.",
            _LABELS,
            registry=registry,
        )


_families: weakref.WeakKeyDictionary[CollectorRegistry, _Family] = weakref.WeakKeyDictionary()
_families_lock = threading.Lock()


class RuntimeMetrics:
    """The metrics of one :class:`LiveConfig` (its environment and tenant labels).

    Args:
        environment: The tier label.
        tenant: The tenant label (empty for none).
        registry: Where to register; ``None`` is prometheus_client's global ``REGISTRY``.

    Raises:
        DependencyMissingError: prometheus-client is not installed.
    """

    def __init__(
        self, environment: str, tenant: str | None, registry: CollectorRegistry | None = None
    ) -> None:
        try:
            import prometheus_client
        except ImportError as exc:
            raise missing_extra("prometheus-client", "runtime") from exc
        target = registry if registry is not None else prometheus_client.REGISTRY
        with _families_lock:
            family = _families.get(target)
            if family is None:
                family = _families[target] = _Family(target)
        labels = (environment, tenant or "")
        self._family = family
        self._info = family.info.labels(*labels)
        self._reloads = {
            result: family.reloads.labels(*labels, result)
            for result in ("applied", "rejected", "unchanged", "unavailable")
        }
        self._duration = family.duration.labels(*labels)
        self._last_success = family.last_success.labels(*labels)
        self._subscriber_errors = family.subscriber_errors.labels(*labels)

    def reloaded(self, result: ReloadResult, seconds: float) -> None:
        """Count one reload and its duration."""
        self._reloads[result].inc()
        self._duration.observe(seconds)

    def applied(self, revision: str, checksum: str, at: float) -> None:
        """Record the snapshot now in use."""
        self._info.info({"revision": revision, "checksum": checksum})
        self._last_success.set(at)

    def subscriber_failed(self) -> None:
        """Count one failing subscriber callback."""
        self._subscriber_errors.inc()


class NoMetrics:
    """Stand-in used with ``RuntimeOptions(metrics=False)``."""

    def reloaded(self, result: ReloadResult, seconds: float) -> None:
        """Do nothing."""

    def applied(self, revision: str, checksum: str, at: float) -> None:
        """Do nothing."""

    def subscriber_failed(self) -> None:
        """Do nothing."""
