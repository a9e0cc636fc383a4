"""Fixtures that give tests real Redis, PostgreSQL and etcd servers.

Session-scoped servers start lazily, the first time a test asks for one. The ``*_factory``
fixtures start servers with special settings for one test and stop them at its teardown. A
missing binary FAILS the test (never skips it): run ``scripts/install-test-deps.sh``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

# tests/ has no __init__.py; keep `import servers` working whatever the import mode.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from servers import (
    INSTALL_HINT,
    BinaryNotFoundError,
    EtcdCluster,
    EtcdServer,
    PostgresServer,
    RedisServer,
    ServerStartError,
)

SERVER_FIXTURES = frozenset(
    {
        "redis_server",
        "postgres_server",
        "etcd_server",
        "redis_factory",
        "postgres_factory",
        "etcd_cluster_factory",
    }
)

T = TypeVar("T")
RedisFactory = Callable[..., RedisServer]
PostgresFactory = Callable[..., PostgresServer]
EtcdClusterFactory = Callable[..., EtcdCluster]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real server with ``servers`` (so ``-m`` can select them)."""
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


def _start(what: str, starter: Callable[[], T]) -> T:
    """Run ``starter``; turn a missing binary or a failed start into a test failure."""
    try:
        return starter()
    except BinaryNotFoundError as exc:
        pytest.fail(f"{what}: {exc}\n(tests need the real server: {INSTALL_HINT})")
    except ServerStartError as exc:
        pytest.fail(f"{what} did not start: {exc}")


@pytest.fixture(scope="session")
def servers_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Session directory holding the data and logs of the session-scoped servers."""
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def redis_server(servers_tmp: Path) -> Iterator[RedisServer]:
    """A Redis server shared by the whole session (default settings)."""
    server = _start("redis-server", lambda: RedisServer.start(servers_tmp / "redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(servers_tmp: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL server shared by the whole session (superuser ``.user``/``.password``)."""
    server = _start("postgres", lambda: PostgresServer.start(servers_tmp / "postgres"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def etcd_server(servers_tmp: Path) -> Iterator[EtcdServer]:
    """A single-member etcd shared by the whole session."""
    server = _start("etcd", lambda: EtcdServer.start(servers_tmp / "etcd"))
    yield server
    server.stop()


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[RedisFactory]:
    """``redis_factory(**redis_conf)`` starts a Redis for this test only."""
    started: list[RedisServer] = []

    def make(**config: Any) -> RedisServer:
        target = tmp_path / f"redis-{len(started)}"
        server = _start("redis-server", lambda: RedisServer.start(target, **config))
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def postgres_factory(tmp_path: Path) -> Iterator[PostgresFactory]:
    """``postgres_factory(max_connections=..., ...)`` starts a PostgreSQL for this test only.

    Replicas made with ``.start_replica()`` stop with their primary.
    """
    started: list[PostgresServer] = []

    def make(**options: Any) -> PostgresServer:
        target = tmp_path / f"postgres-{len(started)}"
        server = _start("postgres", lambda: PostgresServer.start(target, **options))
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def etcd_cluster_factory(tmp_path: Path) -> Iterator[EtcdClusterFactory]:
    """``etcd_cluster_factory(size=3)`` starts an etcd cluster for this test only."""
    started: list[EtcdCluster] = []

    def make(size: int = 3) -> EtcdCluster:
        target = tmp_path / f"etcd-cluster-{len(started)}"
        cluster = _start("etcd cluster", lambda: EtcdCluster.start(target, size=size))
        started.append(cluster)
        return cluster

    yield make
    for cluster in reversed(started):
        cluster.stop()
