"""RedisClients against a real Redis server: settings applied, rebuilt on reload under traffic."""

from __future__ import annotations

import uuid

import pytest
import redis
from prometheus_client import CollectorRegistry

from servers import RedisServer
from tierconf.integrations import ClientClosedError, InMemoryLiveConfig, RedisClients
from tierconf.integrations.redis import probe_redis, redis_specs
from tierconf.schema import TierConfig

from ._support import Load, wait_for


def redis_config(server: RedisServer, **settings: object) -> TierConfig:
    """A snapshot whose ``database.redis`` points at the test server (no TLS)."""
    values = {"host": server.host, "port": server.port, "tls": False, "db": 2, "session_db": 3, **settings}
    return TierConfig.model_validate({"database": {"redis": values}})


def connection_ids(server: RedisServer, name: str) -> set[int]:
    """Ids of the server's client connections named ``name`` (CLIENT LIST)."""
    admin = redis.Redis(host=server.host, port=server.port)
    try:
        return {int(c["id"]) for c in admin.client_list() if c.get("name") == name}
    finally:
        admin.close()


class TestRedisClients:
    """The cache and session clients follow database.redis."""

    def test_clients_use_their_db_and_pool_settings(self, redis_server: RedisServer) -> None:
        """The cache writes to db, the session store to session_db, with the configured pool."""
        live = InMemoryLiveConfig(redis_config(redis_server, max_connections=7, socket_timeout=2.5))
        key = f"k-{uuid.uuid4().hex}"
        with RedisClients(live, registry=CollectorRegistry()) as clients:
            with clients.cache() as r:
                r.set(key, "cache", ex=60)
                pool = r.connection_pool
                assert pool.max_connections == 7
                assert pool.connection_kwargs["socket_timeout"] == 2.5
            with clients.sessions() as r:
                assert r.get(key) is None
                r.set(key, "session", ex=60)
        direct = redis.Redis(host=redis_server.host, port=redis_server.port, db=2)
        assert direct.get(key) == b"cache"
        direct.close()

    def test_rebuilt_on_reload_while_traffic_runs(self, redis_server: RedisServer) -> None:
        """max_connections changed under 8 threads: no error, the new pools in use, old connections closed."""
        name = f"tierconf-{uuid.uuid4().hex[:8]}"
        live = InMemoryLiveConfig(redis_config(redis_server, max_connections=4))
        key = f"hits-{name}"

        with RedisClients(live, client_name=name, registry=CollectorRegistry()) as clients:

            def work() -> int:
                with clients.cache() as r:
                    hits = int(r.incr(key))
                with clients.sessions() as r:
                    r.set(f"session-{name}", hits, ex=60)
                return hits

            load = Load(work, threads=8).start()
            try:
                wait_for(lambda: load.count >= 100, "commands on the first pools")
                old = connection_ids(redis_server, name)
                live.update({"database.redis.max_connections": 2})
                mark = load.count
                wait_for(lambda: load.count >= mark + 200, "commands on the new pools")
            finally:
                load.stop()
            assert load.errors == []
            assert old
            assert clients.specs.cache.max_connections == 2
            with clients.cache() as r:
                assert r.connection_pool.max_connections == 2
                assert int(r.get(key) or 0) == load.count
            wait_for(lambda: clients.retired_clients == 0, "the old pools to be released")
            wait_for(lambda: not old & connection_ids(redis_server, name), "the old connections to close")
            assert len(connection_ids(redis_server, name)) <= 4  # two pools of two
        wait_for(lambda: not connection_ids(redis_server, name), "every connection to close with the clients")

    def test_a_change_outside_the_clients_builds_nothing(self, redis_server: RedisServer) -> None:
        """session_ttl is read live and rebuilds no pool."""
        live = InMemoryLiveConfig(redis_config(redis_server))
        with RedisClients(live, registry=CollectorRegistry()) as clients:
            before = clients.specs
            live.update({"database.redis.session_ttl": 600})
            assert clients.specs is before
            assert clients.session_ttl == 600

    def test_closed_clients_refuse_use(self, redis_server: RedisServer) -> None:
        """After close() a lease raises ClientClosedError and changes are no longer followed."""
        live = InMemoryLiveConfig(redis_config(redis_server))
        clients = RedisClients(live, registry=CollectorRegistry()).start()
        clients.close()
        assert live.subscriber_count == 0
        with pytest.raises(ClientClosedError), clients.cache():
            pass


class TestRedisProbe:
    """probe_redis answers up for a live server and down, bounded, for a closed port."""

    def test_live_server_is_up(self, redis_server: RedisServer) -> None:
        """PING succeeds on the test server."""
        spec = redis_specs(redis_config(redis_server).database.redis, password=None).cache
        assert probe_redis(spec, 2.0).status == "up"

    def test_wrong_password_is_down_without_leaking_it(self, redis_factory: object) -> None:
        """AUTH failure is reported, and the password never appears in the error."""
        server = redis_factory(requirepass="right-password")  # type: ignore[operator]
        spec = redis_specs(redis_config(server).database.redis, password="wrong-password").cache
        result = probe_redis(spec, 2.0)
        assert result.status == "down"
        assert result.error is not None and "wrong-password" not in result.error
