"""The shipped Grafana dashboard and Prometheus rules: valid, parseable, and about real metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from prometheus_client import CollectorRegistry

from tierconf.dashboards import DASHBOARD_METRICS, paths
from tierconf.integrations._metrics import METRIC_NAMES, client_metrics
from tierconf.targets import Scope
from tierconf.targets._drift_metrics import DriftLabels, DriftMetrics
from tierconf.targets._plan import DriftReport

SCHEMA = Path(__file__).with_name("grafana_dashboard.schema.json")
METRIC = re.compile(r"\btierconf_[a-z_]+\b")
#: Dashboard variables replaced by sample values so that promtool can parse the queries.
VARIABLES = {"$__rate_interval": "5m", "$namespace": ".*", "$environment": ".*"}


def promtool() -> str:
    """Path of promtool; a missing one fails the test (never skips it)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found (Debian package `prometheus`): run scripts/install-test-deps.sh")
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool with a bound on time."""
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    """The shipped dashboard JSON."""
    return dict(json.loads(paths().grafana_dashboard.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def rules() -> dict[str, Any]:
    """The shipped alert rules."""
    return dict(yaml.safe_load(paths().alert_rules.read_text(encoding="utf-8")))


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row."""
    return (p for p in dashboard["panels"] if p["type"] != "row")


def expressions(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title + refId, PromQL) of every query of the dashboard."""
    for panel in panels(dashboard):
        for target in panel["targets"]:
            yield f"{panel['title']} {target['refId']}", target["expr"]


def exported_metrics() -> set[str]:
    """Sample names the runtime and the clients actually expose (on a fresh registry)."""
    from tierconf.runtime import RuntimeMetrics

    registry = CollectorRegistry()
    runtime = RuntimeMetrics("production", "acme", registry=registry)
    runtime.reloaded("rejected", 0.01)
    runtime.applied("7", "abc123", 1.0)
    runtime.subscriber_failed()
    clients = client_metrics(registry)
    clients.replica_state("db:5432", "acme", in_rotation=True)
    clients.replica_lag("db:5432", "acme", 0.5)
    clients.replica_change("db:5432", "acme", "out", "lagging")
    clients.client_rebuilt("postgres")
    drift = DriftMetrics(registry)
    report = DriftReport("dir:gitops", Scope("app", "production", "acme", "ns"), "revision 1", ())
    drift.observed(DriftLabels("production", "acme", "dir:gitops"), report, 1.0)
    return {sample.name for metric in registry.collect() for sample in metric.samples}


class TestPaths:
    """tierconf.dashboards.paths() points at the package data."""

    def test_files_exist(self) -> None:
        """Both shipped files are there."""
        files = paths()
        assert files.grafana_dashboard.is_file() and files.alert_rules.is_file()


class TestGrafanaDashboard:
    """The dashboard is a valid Grafana dashboard model."""

    def test_matches_the_dashboard_schema(self, dashboard: dict[str, Any]) -> None:
        """The JSON validates against the focused schema of the fields Grafana requires."""
        schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(dashboard), key=str)
        assert errors == [], "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)

    def test_panel_ids_and_ref_ids_are_unique(self, dashboard: dict[str, Any]) -> None:
        """Grafana keys panels by id and queries by refId."""
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        for panel in panels(dashboard):
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]

    def test_panels_fit_the_grid_without_overlapping(self, dashboard: dict[str, Any]) -> None:
        """Every panel lies within the 24 columns and no two cover the same cell."""
        taken: dict[tuple[int, int], str] = {}
        for panel in dashboard["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, panel["title"]
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                    taken[(x, y)] = panel["title"]

    def test_queries_use_only_defined_variables(self, dashboard: dict[str, Any]) -> None:
        """Every $variable in a query or datasource is a templating variable or Grafana's own."""
        defined = {v["name"] for v in dashboard["templating"]["list"]} | {"__rate_interval", "__interval"}
        text = json.dumps(dashboard["panels"])
        used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
        assert used <= defined, used - defined

    def test_queries_parse_as_promql(self, dashboard: dict[str, Any], tmp_path: Path) -> None:
        """promtool accepts every query once the variables are filled in."""
        rules = []
        for n, (_, query) in enumerate(expressions(dashboard)):
            expr = query
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            rules.append({"record": f"tierconf:dashboard_query_{n}", "expr": expr})
        path = tmp_path / "dashboard-queries.yaml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
        result = run_promtool("check", "rules", str(path))
        assert result.returncode == 0, result.stdout + result.stderr


class TestMetricNames:
    """The dashboard and the rules read metrics the code exports."""

    def test_dashboard_and_rules_read_the_documented_metrics(
        self, dashboard: dict[str, Any], rules: dict[str, Any]
    ) -> None:
        """Every tierconf_* name in a query or rule is in DASHBOARD_METRICS, and each is used."""
        in_dashboard = {m for _, expr in expressions(dashboard) for m in METRIC.findall(expr)}
        in_rules = {m for g in rules["groups"] for r in g["rules"] for m in METRIC.findall(r["expr"])}
        assert in_dashboard | in_rules == DASHBOARD_METRICS

    def test_every_metric_read_is_exported(self) -> None:
        """The runtime, the clients and the drift check expose every metric the dashboard reads."""
        assert exported_metrics() >= DASHBOARD_METRICS

    def test_every_client_metric_is_on_the_dashboard(self) -> None:
        """The clients export nothing the dashboard leaves out."""
        assert set(METRIC_NAMES) <= DASHBOARD_METRICS


class TestAlertRules:
    """The alert rules pass promtool and fire exactly when they should."""

    def test_promtool_check_rules(self) -> None:
        """`promtool check rules` accepts the shipped file (syntax, PromQL, templates)."""
        result = run_promtool("check", "rules", str(paths().alert_rules))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout

    def test_alert_scenarios(self, rules: dict[str, Any], tmp_path: Path) -> None:
        """`promtool test rules` on series for each alert: right alert, right labels, right delay."""
        # Annotations are left out of the comparison (promtool compares them whole); their
        # templates are checked by `check rules` and their $labels by the test below.
        stripped = {
            "groups": [
                {**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
                for g in rules["groups"]
            ]
        }
        rule_file = tmp_path / "rules.yaml"
        rule_file.write_text(yaml.safe_dump(stripped))
        test_file = tmp_path / "rules_test.yaml"
        test_file.write_text(yaml.safe_dump(scenarios(rule_file)))
        result = run_promtool("test", "rules", str(test_file))
        assert result.returncode == 0, result.stdout + result.stderr

    def test_annotations_name_only_labels_the_alert_has(self, rules: dict[str, Any]) -> None:
        """Each $labels.X in an annotation is a label the alert keeps (as the scenarios show)."""
        kept = {
            alert: set(expected[0]["exp_labels"]) - {"severity"}
            for alert, expected in expected_alerts().items()
            if expected
        }
        for group in rules["groups"]:
            for rule in group["rules"]:
                used = set(re.findall(r"\$labels\.([a-z_]+)", json.dumps(rule["annotations"])))
                assert used <= kept[rule["alert"]], (rule["alert"], used - kept[rule["alert"]])


POD = {"namespace": "spotify", "job": "api", "environment": "production", "tenant": "acme"}


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    """One input series of a promtool test."""
    text = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{text}}}", "values": values}


def expected_alerts() -> dict[str, list[dict[str, Any]]]:
    """What fires at the end of the scenarios (30 minutes in), by alert name."""
    return {
        "TierconfConfigReloadFailing": [
            {"exp_labels": {**POD, "result": "rejected", "severity": "warning"}},
        ],
        "TierconfStaleConfigRevision": [
            {
                "exp_labels": {
                    **POD,
                    "pod": "api-3",
                    "revision": "6",
                    "checksum": "bbb",
                    "severity": "warning",
                }
            },
        ],
        "TierconfConfigDriftDetected": [
            {
                "exp_labels": {
                    "namespace": "spotify",
                    "environment": "production",
                    "tenant": "acme",
                    "severity": "warning",
                }
            },
        ],
        "TierconfDriftCheckFailing": [
            {
                "exp_labels": {
                    "namespace": "spotify",
                    "environment": "production",
                    "tenant": "acme",
                    "target": "kubernetes",
                    "severity": "warning",
                }
            },
        ],
        "TierconfReplicaOutOfRotation": [
            {
                "exp_labels": {
                    "namespace": "spotify",
                    "pod": "api-1",
                    "replica": "db-r:5432",
                    "tenant": "acme",
                    "severity": "warning",
                }
            },
        ],
        "TierconfConfigSubscriberErrors": [
            {"exp_labels": {**POD, "severity": "info"}},
        ],
    }


def scenarios(rule_file: Path) -> dict[str, Any]:
    """A promtool unit test: one healthy and one faulty case per alert, checked at 4 and 30 minutes."""
    steady = "0+0x30"
    info = "tierconf_config_info"
    inputs = [
        # Reloads: api-1 rejects one update at minute 25; api-2 only applies.
        series("tierconf_config_reloads_total", "0+0x24 1+0x5", **POD, pod="api-1", result="rejected"),
        series("tierconf_config_reloads_total", "0+1x30", **POD, pod="api-2", result="applied"),
        # Revisions: api-3 has stayed on revision 6 while the others moved to 7.
        series(info, "1+0x30", **POD, pod="api-1", revision="7", checksum="aaa"),
        series(info, "1+0x30", **POD, pod="api-2", revision="7", checksum="aaa"),
        series(info, "1+0x30", **POD, pod="api-3", revision="6", checksum="bbb"),
        # Drift from minute 10 on; a clean tenant beside it.
        series(
            "tierconf_drift_detected",
            "0x9 1+0x20",
            namespace="spotify",
            environment="production",
            tenant="acme",
        ),
        series(
            "tierconf_drift_detected", steady, namespace="spotify", environment="production", tenant="globex"
        ),
        # The drift check of acme fails from minute 5 on; globex's runs clean.
        series(
            "tierconf_drift_check_errors_total",
            "0x4 1+1x25",
            namespace="spotify",
            environment="production",
            tenant="acme",
            target="kubernetes",
        ),
        series(
            "tierconf_drift_check_errors_total",
            steady,
            namespace="spotify",
            environment="production",
            tenant="globex",
            target="kubernetes",
        ),
        # Replica: api-1 took it out at minute 20; api-2 still uses it.
        series(
            "tierconf_replica_in_rotation",
            "1x19 0x10",
            namespace="spotify",
            pod="api-1",
            replica="db-r:5432",
            tenant="acme",
        ),
        series(
            "tierconf_replica_in_rotation",
            "1x30",
            namespace="spotify",
            pod="api-2",
            replica="db-r:5432",
            tenant="acme",
        ),
        # One subscriber error at minute 28.
        series("tierconf_config_subscriber_errors_total", "0x27 1x2", **POD, pod="api-1"),
    ]
    early = [{"eval_time": "4m", "alertname": name, "exp_alerts": []} for name in expected_alerts()]
    late = [
        {"eval_time": "30m", "alertname": name, "exp_alerts": alerts}
        for name, alerts in expected_alerts().items()
    ]
    return {
        "rule_files": [str(rule_file)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": inputs, "alert_rule_test": early + late}],
    }
