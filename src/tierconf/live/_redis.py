"""Redis probe: reachability, authentication, version, TLS and the real maxclients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tierconf.errors import missing_extra
from tierconf.live._net import ProbeResult, tcp_problem
from tierconf.rules import RuleHit
from tierconf.rules._capacity import Demand, ServerLimit, capacity_hits


@dataclass(frozen=True)
class RedisTarget:
    """The Redis server to probe and the pools the application opens on it."""

    host: str
    port: int
    db: int
    password: str | None
    tls: bool
    tls_verify: bool
    demand: Demand


def _client(target: RedisTarget, timeout: float) -> Any:
    try:
        import redis
    except ImportError as exc:
        raise missing_extra("redis", "live") from exc
    return redis.Redis(
        host=target.host,
        port=target.port,
        db=target.db,
        password=target.password or None,
        ssl=target.tls,
        ssl_cert_reqs="required" if target.tls_verify else "none",
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
    )


def _maxclients(client: Any) -> int | None:
    import redis

    try:
        value = client.config_get("maxclients").get("maxclients")
    except redis.ResponseError:  # CONFIG may be renamed or disabled on managed Redis
        value = client.info("clients").get("maxclients")
    return int(value) if value is not None else None


def probe_redis(target: RedisTarget, timeout: float) -> ProbeResult:
    """PING, read INFO and maxclients, and re-run the capacity math."""
    result = ProbeResult()
    where = f"{target.host}:{target.port}"
    problem = tcp_problem(target.host, target.port, timeout)
    if problem is not None:
        result.add(
            "LIVE-REDIS-UNREACHABLE",
            RuleHit("database.redis.host", f"Redis at {where} is unreachable: {problem}"),
        )
        return result
    client = _client(target, timeout)
    import redis

    try:
        with client:
            client.ping()
            server = client.info("server")
            clients = client.info("clients")
            maxclients = _maxclients(client)
    except redis.AuthenticationError as exc:
        result.add(
            "LIVE-REDIS-AUTH",
            RuleHit("database.redis.host", f"Redis at {where} refused the credentials: {type(exc).__name__}"),
        )
        return result
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
            result.add(
                "LIVE-REDIS-AUTH",
                RuleHit(
                    "database.redis.host", f"Redis at {where} requires a valid password (REDIS_PASSWORD)"
                ),
            )
        else:
            result.add(
                "LIVE-REDIS-UNREACHABLE",
                RuleHit(
                    "database.redis.host", f"Redis at {where} answered with an error: {type(exc).__name__}"
                ),
            )
        return result
    except redis.RedisError as exc:
        result.add(
            "LIVE-REDIS-UNREACHABLE",
            RuleHit(
                "database.redis.host",
                f"Redis at {where} did not complete the handshake: {type(exc).__name__}",
            ),
        )
        return result
    connected = int(clients.get("connected_clients", 0))
    shown_max = maxclients if maxclients is not None else "unknown"
    result.add(
        "LIVE-REDIS-SERVER",
        RuleHit(
            "database.redis.host",
            f"Redis at {where}: version {server.get('redis_version', '?')}, TLS "
            f"{'on' if target.tls else 'off'}, maxclients {shown_max}, "
            f"{connected} connected clients now",
        ),
    )
    if maxclients is not None:
        limit = ServerLimit(maxclients, 0, f"live from {where}", connected)
        for hit in capacity_hits(
            "database.redis.max_connections", "Redis", target.demand, limit, "maxclients"
        ):
            result.add("CAP-REDIS-CONNECTIONS", hit)
    return result
