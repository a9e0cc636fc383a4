"""The ``monitoring`` domain: Prometheus, Grafana, Jaeger, logging, health and alerting.

Rendered into the ``spotify-ai-agent-monitoring-config`` ConfigMap; the Grafana admin
password goes to a Secret.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from tierconf.schema._fields import DOMAIN_MODEL_CONFIG, group, setting
from tierconf.schema._secret_ref import SecretRef

LogFormat = Literal["json", "text"]
LogOutput = Literal["stdout", "file"]
RotationInterval = Literal["hourly", "daily", "weekly"]

__all__ = [
    "AlertingSettings",
    "GrafanaSettings",
    "HealthSettings",
    "JaegerSettings",
    "LogFormat",
    "LogOutput",
    "LoggingSettings",
    "MonitoringConfig",
    "PrometheusSettings",
    "RotationInterval",
]


class PrometheusSettings(BaseModel):
    """The Prometheus metrics endpoint of each pod."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(True, key="PROMETHEUS_ENABLED", description="Whether metrics are exposed.")
    port: int = setting(
        9090,
        key="PROMETHEUS_PORT",
        description="TCP port of the metrics endpoint.",
        ge=1,
        le=65535,
    )
    metrics_path: str = setting(
        "/metrics",
        key="PROMETHEUS_METRICS_PATH",
        description="HTTP path of the metrics endpoint.",
        pattern=r"^/\S*$",
    )
    scrape_interval: int = setting(
        15,
        key="PROMETHEUS_SCRAPE_INTERVAL",
        description="Seconds between scrapes, written into the ServiceMonitor.",
        unit="seconds",
        ge=1,
        le=3600,
    )


class GrafanaSettings(BaseModel):
    """The Grafana instance that hosts the dashboards."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(
        True, key="GRAFANA_ENABLED", description="Whether dashboards are provisioned to Grafana."
    )
    url: str = setting(
        "http://grafana.monitoring.svc.cluster.local:3000",
        key="GRAFANA_URL",
        description="Base URL of Grafana.",
        pattern=r"^https?://\S+$",
    )
    admin_user: str = setting(
        "admin", key="GRAFANA_ADMIN_USER", description="Grafana user that provisions dashboards."
    )
    admin_password: SecretRef | None = setting(
        None,
        key="GRAFANA_ADMIN_PASSWORD",
        description="Password of GRAFANA_ADMIN_USER.",
        secret=True,
    )


class JaegerSettings(BaseModel):
    """Distributed tracing with Jaeger."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(True, key="JAEGER_ENABLED", description="Whether traces are sent.")
    agent_host: str = setting(
        "jaeger-agent",
        key="JAEGER_AGENT_HOST",
        description="Hostname of the Jaeger agent.",
        min_length=1,
    )
    agent_port: int = setting(
        6831,
        key="JAEGER_AGENT_PORT",
        description="UDP port of the Jaeger agent (compact Thrift).",
        ge=1,
        le=65535,
    )
    sampling_rate: float = setting(
        0.1,
        key="JAEGER_SAMPLING_RATE",
        description="Share of requests traced, from 0 (none) to 1 (all).",
        unit="ratio",
        ge=0,
        le=1,
    )


class LoggingSettings(BaseModel):
    """Structured logging of the services."""

    model_config = DOMAIN_MODEL_CONFIG

    format: LogFormat = setting(
        "json", key="LOG_FORMAT", description="Log record format: JSON lines or plain text."
    )
    output: LogOutput = setting("stdout", key="LOG_OUTPUT", description="Where log records are written.")
    file_path: str = setting(
        "/var/log/spotify-ai-agent/app.log",
        key="LOG_FILE_PATH",
        description="Log file used when LOG_OUTPUT is file.",
        pattern=r"^/\S+$",
    )
    rotation_max_size: str = setting(
        "100MiB",
        key="LOG_ROTATION_MAX_SIZE",
        description="Size at which the log file is rotated, e.g. 100MiB.",
        pattern=r"^[1-9][0-9]*(KiB|MiB|GiB)$",
    )
    rotation_backup_count: int = setting(
        10,
        key="LOG_ROTATION_BACKUP_COUNT",
        description="Rotated log files kept.",
        unit="files",
        ge=0,
        le=1000,
    )
    rotation_interval: RotationInterval = setting(
        "daily",
        key="LOG_ROTATION_INTERVAL",
        description="How often the log file is rotated regardless of size.",
    )


class HealthSettings(BaseModel):
    """Health, readiness and liveness endpoints."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(
        True, key="HEALTH_CHECK_ENABLED", description="Whether health endpoints are served."
    )
    check_interval: int = setting(
        30,
        key="HEALTH_CHECK_INTERVAL",
        description="Seconds between background checks of the dependencies.",
        unit="seconds",
        ge=1,
        le=3600,
    )
    readiness_timeout: int = setting(
        5,
        key="HEALTH_READINESS_TIMEOUT",
        description="Seconds the readiness check may take before the pod is marked unready.",
        unit="seconds",
        ge=1,
        le=300,
    )
    liveness_timeout: int = setting(
        5,
        key="HEALTH_LIVENESS_TIMEOUT",
        description="Seconds the liveness check may take before the pod counts as hung.",
        unit="seconds",
        ge=1,
        le=300,
    )


class AlertingSettings(BaseModel):
    """Performance alerts (rendered into Prometheus alert rules)."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(True, key="ALERTING_ENABLED", description="Whether alert rules are rendered.")
    error_rate_threshold: float = setting(
        5.0,
        key="ALERT_ERROR_RATE_THRESHOLD",
        description="Share of 5xx responses above which an alert fires.",
        unit="percent",
        ge=0,
        le=100,
    )
    latency_p99_threshold_ms: int = setting(
        1000,
        key="ALERT_LATENCY_P99_THRESHOLD_MS",
        description="99th-percentile latency above which an alert fires.",
        unit="milliseconds",
        ge=1,
        le=600000,
    )


class MonitoringConfig(BaseModel):
    """The ``monitoring`` domain: observability of the platform."""

    model_config = DOMAIN_MODEL_CONFIG

    prometheus: PrometheusSettings = group(PrometheusSettings)
    grafana: GrafanaSettings = group(GrafanaSettings)
    jaeger: JaegerSettings = group(JaegerSettings)
    logging: LoggingSettings = group(LoggingSettings)
    health: HealthSettings = group(HealthSettings)
    alerting: AlertingSettings = group(AlertingSettings)
