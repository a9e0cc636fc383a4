"""MongoDB and ElasticSearch clients (construction, unreachable servers) and the health report."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from servers import PostgresServer, RedisServer, free_port
from tierconf.integrations import InMemoryLiveConfig, elasticsearch_spec, health_report, mongo_spec
from tierconf.integrations.elasticsearch import create_client as create_elasticsearch_client
from tierconf.integrations.elasticsearch import probe_elasticsearch
from tierconf.integrations.mongo import create_client as create_mongo_client
from tierconf.integrations.mongo import probe_mongo
from tierconf.schema import TierConfig

from ._support import postgres_config


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def stores(mongo_port: int, elasticsearch_port: int) -> TierConfig:
    """A snapshot with MongoDB and ElasticSearch on loopback ports, without TLS."""
    return TierConfig.model_validate(
        {
            "database": {
                "mongodb": {"host": "127.0.0.1", "port": mongo_port, "tls": False, "max_pool_size": 7},
                "elasticsearch": {"host": "127.0.0.1", "port": elasticsearch_port, "scheme": "http"},
            }
        }
    )


class TestMongo:
    """A pymongo client from database.mongodb, and its probe."""

    def test_client_carries_pool_and_timeout_settings(self) -> None:
        """Pool bounds and server selection timeout reach the client, which has not connected yet."""
        spec = mongo_spec(stores(free_port(), free_port()).database.mongodb, password="pw", app_name="svc")
        client = create_mongo_client(spec)
        try:
            assert client.options.pool_options.max_pool_size == 7
            assert client.options.pool_options.min_pool_size == 0
            assert client.options.server_selection_timeout == 30
            assert client.options.pool_options.metadata["application"] == {"name": "svc"}
        finally:
            client.close()

    def test_closed_port_is_down_with_the_reason(self) -> None:
        """Nothing listening: down, naming the target and the refusal."""
        port = free_port()
        result = probe_mongo(mongo_spec(stores(port, free_port()).database.mongodb, password=None), 1.0)
        assert result.status == "down" and result.target == f"127.0.0.1:{port}"
        assert result.error is not None and f"127.0.0.1:{port}" in result.error

    def test_hung_server_is_down_within_the_budget(self, silent_port: int) -> None:
        """A server that never answers: the probe gives up after its budget."""
        result = probe_mongo(
            mongo_spec(stores(silent_port, free_port()).database.mongodb, password=None), 1.0
        )
        assert result.status == "down" and result.error


class TestElasticsearch:
    """An Elasticsearch client from database.elasticsearch, and its probe."""

    def test_client_points_at_the_configured_node(self) -> None:
        """The node URL comes from scheme, host and port."""
        port = free_port()
        spec = elasticsearch_spec(stores(free_port(), port).database.elasticsearch, password="pw")
        client = create_elasticsearch_client(spec)
        try:
            nodes = [str(node.base_url) for node in client.transport.node_pool.all()]
            assert nodes == [f"http://127.0.0.1:{port}"]
        finally:
            client.close()

    def test_closed_port_is_down_with_the_reason(self) -> None:
        """Nothing listening: down with the connection error, no password in it."""
        port = free_port()
        spec = elasticsearch_spec(stores(free_port(), port).database.elasticsearch, password="s3cret")
        result = probe_elasticsearch(spec, 1.0)
        assert result.status == "down" and result.target == f"http://127.0.0.1:{port}"
        assert result.error is not None and "ConnectionError" in result.error and "s3cret" not in result.error

    def test_hung_server_is_down_within_the_budget(self, silent_port: int) -> None:
        """A server that never answers: the request times out after the budget."""
        spec = elasticsearch_spec(stores(free_port(), silent_port).database.elasticsearch, password=None)
        result = probe_elasticsearch(spec, 1.0)
        assert result.status == "down" and result.error and "Timeout" in result.error


class TestHealthReport:
    """health_report probes every configured dependency and says whether the pod is ready."""

    def test_report_over_real_and_unreachable_dependencies(
        self, postgres_server: PostgresServer, replica: PostgresServer, redis_server: RedisServer
    ) -> None:
        """PostgreSQL, its replica and Redis are up; MongoDB and ElasticSearch on closed ports are down."""
        config = postgres_config(postgres_server, replica=replica)
        data = config.database.model_dump(exclude={"postgres"})
        data["redis"].update(host=redis_server.host, port=redis_server.port, tls=False)
        data["mongodb"].update(host="127.0.0.1", port=free_port(), tls=False)
        data["elasticsearch"].update(host="127.0.0.1", port=free_port(), scheme="http")
        snapshot = TierConfig.model_validate(
            {
                "database": {**data, "postgres": config.database.postgres},
                "monitoring": {"health": {"readiness_timeout": 3}},
            }
        )
        live = InMemoryLiveConfig(snapshot, {"DB_PASSWORD": postgres_server.password})
        report = health_report(live.snapshot(), live.secret, tenant="acme")
        checks = report["checks"]
        assert {name: entry["healthy"] for name, entry in checks.items()} == {
            "postgres": True,
            "postgres_replica": True,
            "redis": True,
            "mongodb": False,
            "elasticsearch": False,
        }
        assert checks["postgres_replica"]["required"] is False
        assert checks["postgres_replica"]["in_recovery"] is True
        # pymongo retries a refused server until its own budget (80% of the timeout) runs out;
        # on a loaded machine the deadline may come first: both are a clear "unhealthy".
        for name in ("mongodb", "elasticsearch"):
            assert checks[name]["status"] in {"down", "timeout"} and checks[name]["error"], checks[name]
        assert (report["status"], report["ready"], report["live"]) == ("fail", False, True)
        assert report["timeout_seconds"] == 3
        assert postgres_server.password not in repr(report)

    def test_wrong_password_is_down_without_leaking_it(
        self, postgres_server: PostgresServer, integration_db: str
    ) -> None:
        """An authentication failure is reported, masked."""
        snapshot = postgres_config(postgres_server)
        report = health_report(snapshot, {"DB_PASSWORD": "not-the-password"}.__getitem__, timeout=2.5)
        entry = report["checks"]["postgres"]
        assert entry["status"] == "down" and "authentication failed" in entry["error"]
        assert "not-the-password" not in repr(report)
