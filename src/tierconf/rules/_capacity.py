"""Capacity math: connection pools at full scale-out against the servers' limits.

Pools are per worker process, so the demand on a server is
``(pool_size + max_overflow) x MAX_WORKERS x MAX_REPLICAS``. PostgreSQL accepts
``max_connections - superuser_reserved_connections`` of them; Redis accepts ``maxclients``.
Above the limit new connections fail under load (error); above 80 % there is no headroom
for deploys (a rolling update runs old and new pods together), migrations or consoles
(warning). The same functions run with the real server numbers in ``validate --live``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tierconf.rules._engine import RuleContext, RuleHit, RuleSet, tiers
from tierconf.schema._root import TierConfig

CAPACITY = RuleSet("capacity")
CAPACITY_SEVERITY = tiers("warning", "error", "error", "error")
HEADROOM = 0.8
_CITATION = (
    "PostgreSQL documentation, max_connections and superuser_reserved_connections; "
    "SQLAlchemy QueuePool (pool_size + max_overflow per process); OWASP ASVS 5.0 V13.2.6"
)


@dataclass(frozen=True, slots=True)
class Demand:
    """Connections a fleet of pods may open to one server, and how that was computed."""

    terms: tuple[tuple[str, int, int], ...]
    """``(what, per-process pool, overflow)`` for each pool that lands on the server."""
    workers: int
    replicas: int

    @property
    def per_process(self) -> int:
        """Connections one worker process may hold."""
        return sum(pool + overflow for _, pool, overflow in self.terms)

    @property
    def total(self) -> int:
        """Connections at full scale-out."""
        return self.per_process * self.workers * self.replicas

    def formula(self) -> str:
        """``(15 pool + 5 overflow) x 4 workers x 20 replicas = 1600``."""
        parts = []
        for what, pool, overflow in self.terms:
            inner = f"{pool} pool + {overflow} overflow" if overflow else f"{pool} pool"
            parts.append(f"{what}({inner})" if what else f"({inner})")
        return f"{' + '.join(parts)} x {self.workers} workers x {self.replicas} replicas = {self.total}"


@dataclass(frozen=True, slots=True)
class ServerLimit:
    """What a server accepts, and where the numbers come from (declared or live)."""

    max_connections: int
    reserved: int = 0
    source: str = "declared"
    in_use: int | None = None

    @property
    def usable(self) -> int:
        """Connections the application may open."""
        return max(self.max_connections - self.reserved, 0)

    def describe(self, setting: str) -> str:
        """``1997 usable (max_connections 2000 - 3 reserved, declared)``."""
        reserved = f" - {self.reserved} reserved" if self.reserved else ""
        in_use = f"; {self.in_use} in use now" if self.in_use is not None else ""
        return f"{self.usable} usable ({setting} {self.max_connections}{reserved}, {self.source}{in_use})"


def postgres_primary_demand(config: TierConfig) -> Demand:
    """The application's connections to the PostgreSQL primary.

    A read replica pointed at the primary's own host:port adds its pools to the primary.
    """
    app = config.application
    postgres = config.database.postgres
    terms = [("", postgres.pool_size, postgres.max_overflow)]
    replica = postgres.read_replica
    if (
        replica.enabled
        and replica.host is not None
        and (replica.host.lower(), replica.port) == (postgres.host.lower(), postgres.port)
    ):
        terms = [
            ("primary", postgres.pool_size, postgres.max_overflow),
            ("replica", replica.pool_size, replica.max_overflow),
        ]
    return Demand(tuple(terms), app.server.max_workers, app.scaling.max_replicas)


def postgres_replica_demand(config: TierConfig) -> Demand | None:
    """The application's connections to a distinct read replica, or None."""
    postgres = config.database.postgres
    replica = postgres.read_replica
    if not replica.enabled or replica.host is None:
        return None
    if (replica.host.lower(), replica.port) == (postgres.host.lower(), postgres.port):
        return None
    app = config.application
    return Demand(
        (("", replica.pool_size, replica.max_overflow),),
        app.server.max_workers,
        app.scaling.max_replicas,
    )


def redis_demand(config: TierConfig) -> Demand:
    """The application's connections to Redis (one pool per worker process)."""
    app = config.application
    return Demand(
        (("", config.database.redis.max_connections, 0),),
        app.server.max_workers,
        app.scaling.max_replicas,
    )


def capacity_hits(
    path: str, server: str, demand: Demand, limit: ServerLimit, setting: str
) -> Iterator[RuleHit]:
    """An error hit above the limit, a soft (warning) hit above 80 % of it."""
    usable = limit.usable
    share = demand.total / usable if usable else float("inf")
    percent = f"{share:.0%}" if usable else "no usable connections"
    text = (
        f"{server} may get {demand.formula()} connections at full scale-out, against "
        f"{limit.describe(setting)}: {percent}"
    )
    if demand.total > usable:
        yield RuleHit(path, text)
    elif share > HEADROOM:
        yield RuleHit(path, text + f", above the {HEADROOM:.0%} headroom mark", soft=True)


def postgres_limit(config: TierConfig) -> ServerLimit:
    """The declared limits of the PostgreSQL servers."""
    postgres = config.database.postgres
    return ServerLimit(postgres.server_max_connections, postgres.superuser_reserved_connections)


@CAPACITY.rule(
    "CAP-PG-CONNECTIONS",
    title="PostgreSQL primary connections at full scale-out",
    rationale="Every worker of every pod keeps its own pool; past the server's usable "
    "connections new checkouts fail with 'too many clients' exactly when traffic peaks.",
    citation=_CITATION,
    fix="lower DB_POOL_SIZE / DB_MAX_OVERFLOW, MAX_WORKERS or MAX_REPLICAS, put PgBouncer "
    "in front, or raise DB_SERVER_MAX_CONNECTIONS on the server",
    severity=CAPACITY_SEVERITY,
)
def postgres_connections(ctx: RuleContext) -> Iterator[RuleHit]:
    """Primary demand within the declared usable connections."""
    return capacity_hits(
        "database.postgres.pool_size",
        "the PostgreSQL primary",
        postgres_primary_demand(ctx.config),
        postgres_limit(ctx.config),
        "max_connections",
    )


@CAPACITY.rule(
    "CAP-PG-REPLICA-CONNECTIONS",
    title="PostgreSQL read-replica connections at full scale-out",
    rationale="The replica must accept the replica pools of every worker; a hot standby "
    "needs max_connections at least equal to the primary's, so the declared limit applies.",
    citation=_CITATION + "; PostgreSQL documentation, Hot Standby (max_connections)",
    fix="lower DB_READ_POOL_SIZE / DB_READ_MAX_OVERFLOW, MAX_WORKERS or MAX_REPLICAS, or "
    "raise max_connections on both servers",
    severity=CAPACITY_SEVERITY,
)
def replica_connections(ctx: RuleContext) -> Iterator[RuleHit]:
    """Replica demand within the declared usable connections."""
    demand = postgres_replica_demand(ctx.config)
    if demand is None:
        return iter(())
    return capacity_hits(
        "database.postgres.read_replica.pool_size",
        "the PostgreSQL read replica",
        demand,
        postgres_limit(ctx.config),
        "max_connections",
    )


@CAPACITY.rule(
    "CAP-REDIS-CONNECTIONS",
    title="Redis connections at full scale-out",
    rationale="Past maxclients Redis refuses new connections ('max number of clients "
    "reached'): caching, sessions and rate limiting fail together.",
    citation="Redis documentation, maxclients; redis-py ConnectionPool max_connections",
    fix="lower REDIS_MAX_CONNECTIONS, MAX_WORKERS or MAX_REPLICAS, or raise maxclients "
    "(REDIS_SERVER_MAXCLIENTS)",
    severity=CAPACITY_SEVERITY,
)
def redis_connections(ctx: RuleContext) -> Iterator[RuleHit]:
    """Redis demand within the declared maxclients."""
    return capacity_hits(
        "database.redis.max_connections",
        "Redis",
        redis_demand(ctx.config),
        ServerLimit(ctx.config.database.redis.server_maxclients),
        "maxclients",
    )
