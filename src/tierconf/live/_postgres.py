"""PostgreSQL probe: reachability, authentication, version, TLS and real limits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tierconf.errors import missing_extra
from tierconf.live._net import ProbeResult, tcp_problem
from tierconf.rules import RuleHit
from tierconf.rules._capacity import Demand, ServerLimit, capacity_hits

_LIMITS_SQL = (
    "SELECT current_setting('server_version'), current_setting('max_connections')::int, "
    "current_setting('superuser_reserved_connections')::int, "
    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int"
)


@dataclass(frozen=True)
class PostgresTarget:
    """One PostgreSQL server to probe and the pools the application opens on it."""

    role: str
    """``primary`` or ``read replica``."""
    host: str
    port: int
    dbname: str
    user: str
    password: str | None
    sslmode: str
    host_path: str
    pool_path: str
    capacity_code: str
    demand: Demand | None


def _connect(target: PostgresTarget, timeout: float) -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise missing_extra("psycopg", "live") from exc
    return psycopg.connect(
        host=target.host,
        port=target.port,
        dbname=target.dbname,
        user=target.user,
        password=target.password or None,
        sslmode=target.sslmode,
        connect_timeout=max(1, math.ceil(timeout)),
        application_name="tierconf-validate-live",
    )


def probe_postgres(target: PostgresTarget, timeout: float) -> ProbeResult:
    """Connect to one server; report what it says and re-run the capacity math."""
    import psycopg

    result = ProbeResult()
    where = f"{target.host}:{target.port}"
    problem = tcp_problem(target.host, target.port, timeout)
    if problem is not None:
        result.add(
            "LIVE-PG-UNREACHABLE",
            RuleHit(target.host_path, f"PostgreSQL {target.role} at {where} is unreachable: {problem}"),
        )
        return result
    try:
        conn = _connect(target, timeout)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        password = "a password" if target.password else "no password"
        result.add(
            "LIVE-PG-AUTH",
            RuleHit(
                target.host_path,
                f"PostgreSQL {target.role} at {where} refused user {target.user!r} (with "
                f"{password}) on database {target.dbname!r}, sslmode {target.sslmode}: {reason}",
            ),
        )
        return result
    with conn:
        version, max_connections, reserved, in_use = conn.execute(_LIMITS_SQL).fetchone()
        tls = bool(conn.pgconn.ssl_in_use)
    result.add(
        "LIVE-PG-SERVER",
        RuleHit(
            target.host_path,
            f"PostgreSQL {target.role} at {where}: version {version}, TLS "
            f"{'on' if tls else 'off'}, max_connections {max_connections}, "
            f"superuser_reserved_connections {reserved}, {in_use} client connections now",
        ),
    )
    if not tls:
        result.add(
            "LIVE-PG-TLS",
            RuleHit(
                "database.postgres.sslmode",
                f"the connection to the {target.role} at {where} is not encrypted",
            ),
        )
    if target.demand is not None:
        limit = ServerLimit(max_connections, reserved, f"live from {where}", in_use)
        for hit in capacity_hits(
            target.pool_path, f"the PostgreSQL {target.role}", target.demand, limit, "max_connections"
        ):
            result.add(target.capacity_code, hit)
    return result
