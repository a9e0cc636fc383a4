"""Fixtures of the client tests: a database of our own on the session's PostgreSQL, its replica."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from servers import PostgresServer, ServerStartError

from ._support import DATABASE, wait_for


@pytest.fixture(scope="session")
def integration_db(postgres_server: PostgresServer) -> str:
    """The database the client tests use, with an ``items`` table, on the session's server."""
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            conn.execute(f"CREATE DATABASE {DATABASE}")
    with psycopg.connect(postgres_server.dsn(DATABASE), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, tag text NOT NULL)")
        conn.execute("INSERT INTO items (tag) VALUES ('seed')")
    return DATABASE


def start_replica(primary: PostgresServer, where: Path) -> PostgresServer:
    """A streaming replica of ``primary`` that has replayed the ``items`` table (fails the test if not)."""
    try:
        replica = primary.start_replica(where)
    except ServerStartError as exc:
        pytest.fail(f"replica did not start: {exc}")

    def has_items() -> bool:
        with psycopg.connect(replica.dsn(DATABASE), connect_timeout=3) as conn:
            return conn.execute("SELECT to_regclass('items') IS NOT NULL").fetchone() == (True,)

    wait_for(has_items, "the replica to replay the items table", timeout=30)
    return replica


@pytest.fixture(scope="session")
def replica(
    postgres_server: PostgresServer, integration_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PostgresServer]:
    """A streaming replica of the session's PostgreSQL, shared by the tests that do not stop it."""
    server = start_replica(postgres_server, tmp_path_factory.mktemp("replica"))
    yield server
    server.stop()
