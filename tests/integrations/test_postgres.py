"""PostgresRouter against a real primary and a real streaming replica (pg_basebackup)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servers import PostgresServer
from tierconf.integrations import ClientClosedError, InMemoryLiveConfig, PostgresRouter

from ._support import DATABASE, Load, postgres_config, wait_for
from .conftest import start_replica


class Base(DeclarativeBase):
    """Declarative base of the test model."""


class Item(Base):
    """A row of the ``items`` table."""

    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    tag: Mapped[str]


def server_port(conn: Connection) -> int:
    """The port of the server ``conn`` talks to: tells the primary from the replica."""
    return int(conn.execute(select(func.inet_server_port())).scalar_one())


def backends(primary: PostgresServer, application_name: str) -> set[int]:
    """PIDs of the server processes serving connections with ``application_name``."""
    with psycopg.connect(primary.dsn(DATABASE), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        ).fetchall()
    return {pid for (pid,) in rows}


@pytest.fixture
def live(postgres_server: PostgresServer, replica: PostgresServer) -> InMemoryLiveConfig:
    """A live configuration pointing at the primary and the shared replica."""
    config = postgres_config(postgres_server, replica=replica)
    return InMemoryLiveConfig(config, {"DB_PASSWORD": postgres_server.password})


@pytest.fixture
def router(live: InMemoryLiveConfig) -> Iterator[PostgresRouter]:
    """A started router for tenant acme; closed after the test."""
    with PostgresRouter(live, tenant="acme", registry=CollectorRegistry()) as started:
        yield started


class TestRouting:
    """Writes and transactions go to the primary, plain reads to the replica."""

    def test_a_healthy_replica_is_in_rotation_after_start(
        self, router: PostgresRouter, replica: PostgresServer
    ) -> None:
        """start() checks the replica once, so reads use it from the first request."""
        status = router.replica_status()
        assert status.in_rotation and status.replica == f"{replica.host}:{replica.port}"
        assert status.lag_seconds is not None

    def test_plain_read_goes_to_the_replica(self, router: PostgresRouter, replica: PostgresServer) -> None:
        """read() runs on the replica while it is in rotation."""
        assert router.read(server_port) == replica.port

    def test_transaction_goes_to_the_primary(
        self, router: PostgresRouter, postgres_server: PostgresServer
    ) -> None:
        """transaction() runs on the primary."""
        with router.transaction() as conn:
            assert server_port(conn) == postgres_server.port

    def test_write_lands_on_the_primary(
        self, router: PostgresRouter, postgres_server: PostgresServer
    ) -> None:
        """A row inserted in a transaction is on the primary once it commits."""
        tag = f"write-{uuid.uuid4().hex}"
        with router.transaction() as conn:
            conn.execute(insert(Item).values(tag=tag))
        with psycopg.connect(postgres_server.dsn(DATABASE)) as conn:
            assert conn.execute("SELECT count(*) FROM items WHERE tag = %s", (tag,)).fetchone() == (1,)

    def test_read_after_write_in_one_transaction_sees_the_write(self, router: PostgresRouter) -> None:
        """Inside one transaction a read sees the row the transaction just wrote."""
        tag = f"ryw-{uuid.uuid4().hex}"
        with router.transaction() as conn:
            conn.execute(insert(Item).values(tag=tag))
            assert conn.execute(select(func.count()).where(Item.tag == tag)).scalar_one() == 1

    def test_read_refuses_writes_and_keeps_the_replica(self, router: PostgresRouter) -> None:
        """A write inside read() fails (read-only transaction) and does not cost the replica its place."""
        with pytest.raises(DBAPIError, match="read-only"):
            router.read(lambda conn: conn.execute(insert(Item).values(tag="nope")))
        assert router.replica_status().in_rotation

    def test_connection_settings_come_from_the_snapshot(self, router: PostgresRouter) -> None:
        """application_name carries the tenant; statement_timeout and the pool follow the settings."""
        query = text("SELECT current_setting('application_name'), current_setting('statement_timeout')")
        with router.transaction() as conn:
            assert tuple(conn.execute(query).one()) == ("spotify-ai-agent/acme", "30s")
            assert conn.engine.pool.size() == 10  # type: ignore[attr-defined]
        assert router.read(lambda conn: conn.execute(query).one()[0]) == "spotify-ai-agent/acme"


class TestRoutingSession:
    """The ORM session routes per statement and reads its own writes inside a transaction."""

    def test_plain_select_goes_to_the_replica(self, router: PostgresRouter, replica: PostgresServer) -> None:
        """A SELECT in a fresh session runs on the replica."""
        with router.session() as session:
            assert session.execute(select(func.inet_server_port())).scalar_one() == replica.port

    def test_reads_after_a_write_see_it_on_the_primary(
        self, router: PostgresRouter, postgres_server: PostgresServer, replica: PostgresServer
    ) -> None:
        """After a flush the transaction reads its row on the primary; after commit, reads use the replica."""
        tag = f"orm-{uuid.uuid4().hex}"
        with router.session() as session:
            assert session.execute(select(func.inet_server_port())).scalar_one() == replica.port
            session.add(Item(tag=tag))
            session.flush()
            assert session.scalars(select(Item).where(Item.tag == tag)).one().tag == tag
            assert session.execute(select(func.inet_server_port())).scalar_one() == postgres_server.port
            session.commit()
            assert session.execute(select(func.inet_server_port())).scalar_one() == replica.port

    def test_explicit_transaction_stays_on_the_primary(
        self, router: PostgresRouter, postgres_server: PostgresServer
    ) -> None:
        """Every statement inside session.begin() goes to the primary, reads included."""
        with router.session() as session, session.begin():
            assert session.execute(select(func.inet_server_port())).scalar_one() == postgres_server.port

    def test_text_statements_go_to_the_primary(
        self, router: PostgresRouter, postgres_server: PostgresServer
    ) -> None:
        """text() may hide a write, so it runs on the primary."""
        with router.session() as session:
            assert session.execute(text("SELECT inet_server_port()")).scalar_one() == postgres_server.port

    def test_a_closed_session_cannot_be_reused(self, router: PostgresRouter) -> None:
        """After close() the session holds no engines and says so."""
        session = router.session()
        session.close()
        with pytest.raises(ClientClosedError):
            session.execute(select(func.inet_server_port()))


class TestReplicaLag:
    """A replica lagging beyond max_lag_seconds leaves rotation and comes back when it catches up."""

    def test_paused_replay_takes_the_replica_out_and_resuming_brings_it_back(
        self, live: InMemoryLiveConfig, postgres_server: PostgresServer, replica: PostgresServer
    ) -> None:
        """Pausing WAL replay while the primary writes makes the lag grow past 1 s; resuming heals it."""
        live.update({"database.postgres.read_replica.max_lag_seconds": 1})
        with PostgresRouter(live, tenant="lag", registry=CollectorRegistry()) as router:
            wait_for(lambda: router.replica_status().in_rotation, "the replica to be in rotation")
            self._pause_and_resume(router, postgres_server, replica)

    @staticmethod
    def _pause_and_resume(
        router: PostgresRouter, postgres_server: PostgresServer, replica: PostgresServer
    ) -> None:
        with psycopg.connect(replica.dsn(DATABASE), autocommit=True) as standby:
            standby.execute("SELECT pg_wal_replay_pause()")
            try:

                def write_and_check() -> bool:
                    # Keep the primary writing while replay is paused, so WAL keeps arriving
                    # at the standby and the replay lag keeps growing, however slow the machine.
                    with router.transaction() as conn:
                        conn.execute(insert(Item).values(tag="during-pause"))
                    return not router.replica_status().in_rotation

                wait_for(write_and_check, "the lagging replica to leave rotation", timeout=90)
                assert "lag" in router.replica_status().reason
                assert router.read(server_port) == postgres_server.port
            finally:
                standby.execute("SELECT pg_wal_replay_resume()")
        wait_for(lambda: router.replica_status().in_rotation, "the replica to rejoin rotation")
        assert router.read(server_port) == replica.port
        status = router.replica_status()
        assert status.changes_out >= 1 and status.changes_in >= 2


class TestReplicaFailover:
    """A stopped replica costs no request; a replacement pushed by configuration takes the reads back."""

    def test_stop_and_replace_the_replica_under_read_load(
        self, postgres_server: PostgresServer, integration_db: str, tmp_path: Path
    ) -> None:
        """Reads keep succeeding while the replica stops, move to the primary, then to a new replica."""
        first = start_replica(postgres_server, tmp_path / "first")
        live = InMemoryLiveConfig(
            postgres_config(postgres_server, replica=first), {"DB_PASSWORD": postgres_server.password}
        )
        registry = CollectorRegistry()
        with PostgresRouter(live, tenant="failover", registry=registry) as router:
            load = Load(lambda: router.read(server_port), threads=3).start()
            try:
                wait_for(lambda: first.port in load.since(0), "reads on the first replica")
                first.stop()
                mark = load.count
                wait_for(
                    lambda: load.since(mark)[-20:] == [postgres_server.port] * 20,
                    "reads to move to the primary",
                )
                assert not router.replica_status().in_rotation
                # tests/servers.py cannot restart a server on its data dir: a new replica
                # replaces the stopped one through a configuration change, as an operator would.
                second = start_replica(postgres_server, tmp_path / "second")
                live.update({"database.postgres.read_replica.port": second.port})
                mark = load.count
                wait_for(lambda: second.port in load.since(mark), "reads on the new replica")
            finally:
                load.stop()
            assert load.errors == []
            assert router.replica_status().in_rotation
            labels = {"replica": f"{first.host}:{first.port}", "tenant": "failover", "direction": "out"}
            labels["reason"] = out_reason(registry, first)
            assert labels["reason"] in {"read_failed", "unreachable"}
            assert registry.get_sample_value("tierconf_replica_rotation_changes_total", labels) == 1
            assert (
                registry.get_sample_value(
                    "tierconf_replica_in_rotation",
                    {"replica": f"{second.host}:{second.port}", "tenant": "failover"},
                )
                == 1
            )
            assert (
                registry.get_sample_value(
                    "tierconf_replica_in_rotation",
                    {"replica": f"{first.host}:{first.port}", "tenant": "failover"},
                )
                is None
            )
        second.stop()


def out_reason(registry: CollectorRegistry, replica: PostgresServer) -> str:
    """The reason label of the (single) out-of-rotation switch of ``replica``."""
    reasons = {
        sample.labels["reason"]
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "tierconf_replica_rotation_changes_total"
        and sample.labels.get("direction") == "out"
        and sample.labels.get("replica") == f"{replica.host}:{replica.port}"
    }
    assert len(reasons) == 1, reasons
    return reasons.pop()


class TestPoolReload:
    """A pool change pushed through the live configuration swaps engines without failing a request."""

    def test_pool_size_change_under_eight_threads(
        self, postgres_server: PostgresServer, integration_db: str
    ) -> None:
        """Zero errors, the new pool in effect, and every connection of the old pool closed."""
        tenant = f"pool-{uuid.uuid4().hex[:8]}"
        app = f"spotify-ai-agent/{tenant}"
        config = postgres_config(postgres_server, pool_size=4, max_overflow=0)
        live = InMemoryLiveConfig(config, {"DB_PASSWORD": postgres_server.password})
        pid = text("SELECT pg_backend_pid(), pg_sleep(0.002)")

        with PostgresRouter(live, tenant=tenant, registry=CollectorRegistry()) as router:

            def work() -> int:
                with router.transaction() as conn:
                    return int(conn.execute(pid).scalar_one())

            load = Load(work, threads=8).start()
            try:
                wait_for(lambda: load.count >= 50, "queries on the first pool")
                old = set(load.since(0))  # every pid seen so far belongs to the first pool
                live.update({"database.postgres.pool_size": 2})
                mark = load.count
                wait_for(lambda: load.count >= mark + 100, "queries on the new pool")
            finally:
                load.stop()
            assert load.errors == []
            assert router.specs.primary.pool_size == 2
            with router.transaction() as conn:
                assert conn.engine.pool.size() == 2  # type: ignore[attr-defined]
            wait_for(lambda: router.retired_engines == 0, "the old engines to be disposed")
            wait_for(lambda: not old & backends(postgres_server, app), "the old connections to close")
            assert 1 <= len(backends(postgres_server, app)) <= 2
        wait_for(lambda: not backends(postgres_server, app), "every connection to close with the router")

    def test_a_request_in_flight_keeps_its_connection_across_a_swap(
        self, postgres_server: PostgresServer, integration_db: str
    ) -> None:
        """The old engine stays open while a transaction holds it and closes right after."""
        tenant = f"swap-{uuid.uuid4().hex[:8]}"
        live = InMemoryLiveConfig(postgres_config(postgres_server), {"DB_PASSWORD": postgres_server.password})
        with PostgresRouter(live, tenant=tenant, registry=CollectorRegistry()) as router:
            with router.transaction() as conn:
                before = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                live.update({"database.postgres.pool_size": 3})
                assert router.retired_engines == 1
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == before
            assert router.retired_engines == 0
            wait_for(
                lambda: before not in backends(postgres_server, f"spotify-ai-agent/{tenant}"),
                "the old connection to close",
            )
            with router.transaction() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != before

    def test_a_change_outside_the_engines_builds_nothing(
        self, postgres_server: PostgresServer, integration_db: str
    ) -> None:
        """Changing the lag bound keeps the engines; changing the timeout rebuilds them."""
        live = InMemoryLiveConfig(postgres_config(postgres_server), {"DB_PASSWORD": postgres_server.password})
        with PostgresRouter(live, registry=CollectorRegistry()) as router:
            before = router.specs
            live.update({"database.postgres.read_replica.max_lag_seconds": 30})
            assert router.specs is before
            live.update({"database.postgres.statement_timeout": 5000})
            assert router.specs.primary.statement_timeout_ms == 5000
            with router.transaction() as conn:
                assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "5s"

    def test_a_closed_router_refuses_requests_and_unsubscribes(
        self, postgres_server: PostgresServer, integration_db: str
    ) -> None:
        """After close() requests raise ClientClosedError and configuration changes are no longer followed."""
        live = InMemoryLiveConfig(postgres_config(postgres_server), {"DB_PASSWORD": postgres_server.password})
        router = PostgresRouter(live, registry=CollectorRegistry()).start()
        assert live.subscriber_count == 1
        router.close()
        assert live.subscriber_count == 0
        with pytest.raises(ClientClosedError):
            router.read(server_port)
