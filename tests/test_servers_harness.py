"""The test-server harness really starts Redis, PostgreSQL and etcd, and they really work."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from servers import EtcdCluster, EtcdServer, PostgresServer, RedisServer

pytestmark = pytest.mark.servers

POLL_TIMEOUT = 15.0


def _poll(check: Callable[[], bool], what: str, timeout: float = POLL_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _etcd_put(client: httpx.Client, endpoint: str, key: str, value: str) -> httpx.Response:
    return client.post(f"{endpoint}/v3/kv/put", json={"key": _b64(key), "value": _b64(value)})


def _etcd_get(
    client: httpx.Client, endpoint: str, key: str, *, serializable: bool = False
) -> str | None:
    body: dict[str, Any] = {"key": _b64(key)}
    if serializable:
        body["serializable"] = True  # answer from this member's own copy, not via the leader
    resp = client.post(f"{endpoint}/v3/kv/range", json=body)
    resp.raise_for_status()
    kvs = resp.json().get("kvs") or []
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else None


class TestRedis:
    def test_ping_set_get_and_custom_maxclients(
        self, redis_factory: Callable[..., RedisServer]
    ) -> None:
        """A Redis started with maxclients=50 answers PING, stores a key and reports 50."""
        server = redis_factory(maxclients=50)
        assert server.host == "127.0.0.1"
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            assert client.ping() is True
            assert client.set("tierconf:harness", "ok") is True
            assert client.get("tierconf:harness") == "ok"
            assert client.config_get("maxclients") == {"maxclients": "50"}
            assert client.config_get("bind")["bind"] == "127.0.0.1"
            assert client.config_get("save")["save"] == ""
        finally:
            client.close()

    def test_requirepass_is_enforced_and_in_url(
        self, redis_factory: Callable[..., RedisServer]
    ) -> None:
        """With requirepass, a client without it is refused and the server's url carries it."""
        server = redis_factory(requirepass="s3cret pass")
        # No retries: redis-py would otherwise retry the refused handshake with backoff (~4 s).
        no_retry = Retry(NoBackoff(), 0)
        anonymous = redis.Redis(host=server.host, port=server.port, retry=no_retry)
        authed = redis.Redis.from_url(server.url)
        try:
            with pytest.raises(redis.exceptions.AuthenticationError):
                anonymous.ping()
            assert authed.ping() is True
        finally:
            anonymous.close()
            authed.close()

    def test_session_server_answers(self, redis_server: RedisServer) -> None:
        """The shared session Redis answers PING."""
        assert redis_server.ping()


class TestPostgres:
    def test_max_connections_is_what_was_requested(
        self, postgres_factory: Callable[..., PostgresServer]
    ) -> None:
        """A server started with max_connections=20 reports 20 and listens on loopback only."""
        server = postgres_factory(max_connections=20)
        with psycopg.connect(server.dsn(), connect_timeout=5) as conn:
            assert conn.execute("SHOW max_connections").fetchone() == ("20",)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
            assert conn.execute("SELECT current_user").fetchone() == (server.user,)

    def test_replica_streams_writes_and_is_in_recovery(
        self, postgres_factory: Callable[..., PostgresServer], tmp_path: Path
    ) -> None:
        """A row written on the primary reaches its pg_basebackup replica, which is in recovery."""
        primary = postgres_factory(max_connections=20)
        replica = primary.start_replica(tmp_path / "replica")
        assert replica.port != primary.port
        with psycopg.connect(primary.dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE TABLE harness (id int PRIMARY KEY, note text)")
            conn.execute("INSERT INTO harness VALUES (1, 'from primary')")

        with psycopg.connect(replica.dsn(), autocommit=True, connect_timeout=5) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)

            def replicated() -> bool:
                exists = conn.execute("SELECT to_regclass('public.harness')").fetchone()
                if exists is None or exists[0] is None:
                    return False
                return conn.execute("SELECT note FROM harness WHERE id = 1").fetchone() == (
                    "from primary",
                )

            _poll(replicated, "the row to reach the replica")
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO harness VALUES (2, 'on replica')")

    def test_wrong_password_is_refused(self, postgres_server: PostgresServer) -> None:
        """The session server authenticates with a password: a wrong one is refused."""
        with psycopg.connect(postgres_server.dsn(), connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        bad = postgres_server.dsn().replace(postgres_server.password, "wrong")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(bad, connect_timeout=5)


class TestEtcdSingleMember:
    def test_put_and_range_through_json_gateway(self, etcd_server: EtcdServer) -> None:
        """A key put through /v3/kv/put reads back through /v3/kv/range."""
        with httpx.Client(timeout=5) as client:
            resp = _etcd_put(client, etcd_server.endpoint, "/tierconf/harness", "hello")
            assert resp.status_code == 200, resp.text
            assert _etcd_get(client, etcd_server.endpoint, "/tierconf/harness") == "hello"
            assert _etcd_get(client, etcd_server.endpoint, "/tierconf/absent") is None

    def test_status_names_itself_leader(self, etcd_server: EtcdServer) -> None:
        """A lone member's /v3/maintenance/status reports itself as leader (header.member_id)."""
        status = etcd_server.status()
        assert status["version"].startswith("3.")
        assert status["leader"] == status["header"]["member_id"]


class TestEtcdCluster:
    def test_failover_after_leader_kill_and_rejoin(
        self, etcd_cluster_factory: Callable[..., EtcdCluster]
    ) -> None:
        """Killing the leader elects another, writes go on, and the restarted member catches up."""
        cluster = etcd_cluster_factory(size=3)
        assert len(cluster.endpoints) == 3
        old_leader = cluster.leader()
        old_index = cluster.members.index(old_leader)
        cluster.kill_member(old_index)
        assert not old_leader.running()
        survivor = cluster.members[(old_index + 1) % 3]

        # A short timeout: a put sent before the election settles just hangs, so retry soon.
        with httpx.Client(timeout=0.5) as client:

            def write_succeeds() -> bool:
                try:
                    resp = _etcd_put(client, survivor.endpoint, "/tierconf/failover", "written")
                except httpx.HTTPError:
                    return False
                return resp.status_code == 200 and "header" in resp.json()

            _poll(write_succeeds, "a write through a surviving member")
            new_leader = cluster.leader()
            assert new_leader is not old_leader
            assert _etcd_get(client, new_leader.endpoint, "/tierconf/failover") == "written"

            cluster.restart_member(old_index)
            assert old_leader.healthy()
            _poll(
                lambda: (
                    _etcd_get(client, old_leader.endpoint, "/tierconf/failover", serializable=True)
                    == "written"
                ),
                "the restarted member to catch up",
            )
            assert cluster.leader() in cluster.members
