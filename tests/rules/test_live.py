"""`validate --live` against real PostgreSQL and Redis servers, and closed ports."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from servers import PostgresServer, RedisServer, free_port
from tierconf.cli import cli

CLOSED = "127.0.0.1"


def live(
    *sets: str, env: dict[str, str] | None = None, tier: str = "development"
) -> tuple[int, dict[str, Any], str]:
    """Run `tierconf validate --live --format json` in-process; (exit code, document, raw output)."""
    closed = str(free_port())
    argv = [
        "validate",
        "-e",
        tier,
        "--live",
        "--live-timeout",
        "2",
        "--format",
        "json",
        "--set",
        f"MONGO_HOST={CLOSED}",
        "--set",
        f"MONGO_PORT={closed}",
        "--set",
        f"ELASTICSEARCH_HOST={CLOSED}",
        "--set",
        f"ELASTICSEARCH_PORT={closed}",
    ]
    for assignment in sets:
        argv += ["--set", assignment]
    result = CliRunner().invoke(cli, argv, env=env or {}, catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout), result.stdout + result.stderr


def postgres_sets(server: PostgresServer, *extra: str) -> tuple[str, ...]:
    """--set assignments pointing the primary at ``server``."""
    return (
        f"DB_HOST={server.host}",
        f"DB_PORT={server.port}",
        f"DB_USER={server.user}",
        "DB_NAME=postgres",
        *extra,
    )


def redis_sets(server: RedisServer) -> tuple[str, ...]:
    """--set assignments pointing Redis at ``server``."""
    return (f"REDIS_HOST={server.host}", f"REDIS_PORT={server.port}", "REDIS_TLS=false")


def codes(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Findings by code."""
    found: dict[str, list[dict[str, Any]]] = {}
    for finding in document["findings"]:
        found.setdefault(finding["code"], []).append(finding)
    return found


class TestLivePostgres:
    """The PostgreSQL probe reads the real server and re-runs the capacity math."""

    def test_capacity_fires_from_live_max_connections(
        self, postgres_factory: Any, redis_server: RedisServer
    ) -> None:
        """max_connections=20 on the server: 22 pooled connections are an error from live data."""
        server = postgres_factory(max_connections=20)
        exit_code, document, printed = live(
            *postgres_sets(server, "DB_POOL_SIZE=20", "DB_MAX_OVERFLOW=2"),
            *redis_sets(redis_server),
            env={"TIERCONF_SECRET_DB_PASSWORD": server.password},
        )
        found = codes(document)
        assert exit_code == 1
        [capacity] = [f for f in found["CAP-PG-CONNECTIONS"] if "live from" in f["message"]]
        assert capacity["severity"] == "error"
        assert "(20 pool + 2 overflow) x 2 workers x 1 replicas = 44" in capacity["message"]
        assert "max_connections 20 - 3 reserved" in capacity["message"]
        assert capacity["path"] == "database.postgres.pool_size"
        # The declared limit (100) alone would not fire: only the live numbers do.
        assert all("live from" in f["message"] for f in found["CAP-PG-CONNECTIONS"])
        [info] = found["LIVE-PG-SERVER"]
        assert "max_connections 20" in info["message"] and "TLS off" in info["message"]
        assert found["LIVE-PG-TLS"][0]["severity"] == "info"
        assert "LIVE-PG-UNREACHABLE" not in found and "LIVE-PG-AUTH" not in found
        assert server.password not in printed

    def test_wrong_password_is_an_auth_finding(self, postgres_server: PostgresServer) -> None:
        """A rejected password is LIVE-PG-AUTH, an error, and the password is never printed."""
        wrong = "definitely-not-the-password-8841"
        _, document, printed = live(
            *postgres_sets(postgres_server), env={"TIERCONF_SECRET_DB_PASSWORD": wrong}
        )
        [auth] = codes(document)["LIVE-PG-AUTH"]
        assert auth["severity"] == "error"
        assert "refused user" in auth["message"]
        assert wrong not in printed and postgres_server.password not in printed

    def test_read_replica_is_probed_too(self, postgres_factory: Any, tmp_path: Path) -> None:
        """With a distinct replica enabled, both servers report their facts."""
        primary = postgres_factory(max_connections=30)
        replica = primary.start_replica(tmp_path / "replica")
        _, document, _ = live(
            *postgres_sets(
                primary,
                "DB_READ_REPLICA_ENABLED=true",
                f"DB_READ_HOST={replica.host}",
                f"DB_READ_PORT={replica.port}",
            ),
            env={"TIERCONF_SECRET_DB_PASSWORD": primary.password},
        )
        messages = [f["message"] for f in codes(document)["LIVE-PG-SERVER"]]
        assert any("PostgreSQL primary" in m for m in messages)
        assert any("PostgreSQL read replica" in m for m in messages)


class TestLiveRedis:
    """The Redis probe reads maxclients and reports authentication failures."""

    def test_capacity_fires_from_live_maxclients(
        self, redis_factory: Any, postgres_server: PostgresServer
    ) -> None:
        """maxclients 40 on the server: 2 workers x 30 connections is an error from live data."""
        server = redis_factory(maxclients=40)
        _, document, _ = live(
            *redis_sets(server),
            "REDIS_MAX_CONNECTIONS=30",
            *postgres_sets(postgres_server),
            env={"TIERCONF_SECRET_DB_PASSWORD": postgres_server.password},
        )
        found = codes(document)
        [capacity] = [f for f in found["CAP-REDIS-CONNECTIONS"] if "live from" in f["message"]]
        assert capacity["severity"] == "error"
        assert "maxclients 40" in capacity["message"]
        assert "maxclients 40" in found["LIVE-REDIS-SERVER"][0]["message"]

    def test_missing_password_is_an_auth_finding(self, redis_factory: Any) -> None:
        """A Redis with requirepass and no REDIS_PASSWORD gives LIVE-REDIS-AUTH."""
        secret = "redis-requirepass-value-5521"
        server = redis_factory(requirepass=secret)
        _, document, printed = live(*redis_sets(server))
        assert codes(document)["LIVE-REDIS-AUTH"][0]["severity"] == "error"
        _, document, printed = live(*redis_sets(server), env={"TIERCONF_SECRET_REDIS_PASSWORD": secret})
        assert "LIVE-REDIS-AUTH" not in codes(document)
        assert secret not in printed


class TestUnreachable:
    """Closed ports give clear unreachable findings, quickly and concurrently."""

    def test_every_store_unreachable(self) -> None:
        """PostgreSQL, Redis, MongoDB and ElasticSearch on closed ports: four errors."""
        port = str(free_port())
        started = time.monotonic()
        exit_code, document, _ = live(
            f"DB_HOST={CLOSED}", f"DB_PORT={port}", f"REDIS_HOST={CLOSED}", f"REDIS_PORT={port}"
        )
        elapsed = time.monotonic() - started
        found = codes(document)
        assert exit_code == 1
        for code in (
            "LIVE-PG-UNREACHABLE",
            "LIVE-REDIS-UNREACHABLE",
            "LIVE-MONGO-UNREACHABLE",
            "LIVE-ES-UNREACHABLE",
        ):
            [finding] = found[code]
            assert finding["severity"] == "error"
            assert "unreachable" in finding["message"]
        assert elapsed < 10
