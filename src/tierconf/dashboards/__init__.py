"""Grafana dashboard and Prometheus alert rules for the configuration system itself.

Shipped as package data; :func:`paths` says where they are, for provisioning (copy the
dashboard into Grafana's provisioning directory or a ConfigMap with the
``grafana_dashboard`` label; load the rules with a ``PrometheusRule`` or ``rule_files``).

The dashboard (uid ``tierconf-config``) shows reload results and latency, the revision
each pod serves, drift, and read-replica routing. The rules alert on failing reloads, a pod
on a stale revision, drift, a drift check that cannot run, a replica out of rotation and
failing change callbacks. They read these metrics::

    tierconf_config_info{environment,tenant,revision,checksum}       tierconf.runtime
    tierconf_config_reloads_total{environment,tenant,result}         tierconf.runtime
    tierconf_config_reload_duration_seconds (histogram)              tierconf.runtime
    tierconf_config_last_success_timestamp_seconds                   tierconf.runtime
    tierconf_config_subscriber_errors_total                          tierconf.runtime
    tierconf_drift_detected{environment,tenant,target}               tierconf drift --every/--metrics-*
    tierconf_drift_check_errors_total{environment,tenant,target}     tierconf drift --every/--metrics-*
    tierconf_replica_in_rotation{replica,tenant}                     tierconf.integrations
    tierconf_replica_lag_seconds{replica,tenant}                     tierconf.integrations
    tierconf_replica_rotation_changes_total{replica,tenant,direction,reason}
    tierconf_client_rebuilds_total{client}                           tierconf.integrations
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from tierconf.errors import TierconfError

__all__ = ["DASHBOARD_METRICS", "DashboardFiles", "paths"]

#: Every metric the dashboard and the rules query (tests check both against this list).
DASHBOARD_METRICS = frozenset(
    {
        "tierconf_config_info",
        "tierconf_config_reloads_total",
        "tierconf_config_reload_duration_seconds_bucket",
        "tierconf_config_last_success_timestamp_seconds",
        "tierconf_config_subscriber_errors_total",
        "tierconf_drift_detected",
        "tierconf_drift_check_errors_total",
        "tierconf_replica_in_rotation",
        "tierconf_replica_lag_seconds",
        "tierconf_replica_rotation_changes_total",
        "tierconf_client_rebuilds_total",
    }
)


@dataclass(frozen=True)
class DashboardFiles:
    """Where the shipped files are.

    Attributes:
        grafana_dashboard: The Grafana dashboard JSON (schemaVersion 39, Grafana 10 and later).
        alert_rules: The Prometheus alerting rules YAML.
    """

    grafana_dashboard: Path
    alert_rules: Path


def paths() -> DashboardFiles:
    """The paths of the shipped dashboard and alert rules.

    Raises:
        TierconfError: the package is installed in a form without real files (a zip).
    """
    root = files(__name__)
    if not isinstance(root, Path):
        raise TierconfError(
            f"tierconf.dashboards is installed as {type(root).__name__}, not as files; "
            "install tierconf from a wheel or a source tree to get the dashboard files"
        )
    return DashboardFiles(
        grafana_dashboard=root / "tierconf-config.json",
        alert_rules=root / "tierconf-alerts.yaml",
    )
