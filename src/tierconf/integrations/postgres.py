"""PostgreSQL from the configuration: tuned engines, read/write splitting, replica failover.

Three layers, each usable alone::

    engine_specs(settings, password=..., tenant=...)   pure: settings -> EngineSpecs (data)
    create_engine(spec)                                 one SQLAlchemy Engine (psycopg 3)
    PostgresRouter(live, tenant=...)                    follows a LiveSource:
        .read(fn)            fn(conn) on the replica, on the primary when the replica is out
        .transaction()       a connection in a transaction on the primary
        .session()           a RoutingSession: plain SELECTs to the replica, the rest (and
                             everything after the first write, until the transaction ends)
                             to the primary

The router checks the replica every ``read_replica.health_check_interval`` seconds and takes
it out of rotation when it is unreachable, is not a standby, or lags more than
``read_replica.max_lag_seconds`` (lag is ``now() - pg_last_xact_replay_timestamp()``, or 0
when everything received has been replayed); it puts it back when a check passes. A read
that loses its replica connection is retried once on the primary and takes the replica out
at once. A configuration change of pool or connection settings builds new engines; the old
ones are disposed when the last request using them is done, so no request fails because of
it. Needs the ``integrations`` extra (SQLAlchemy 2, psycopg 3).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

from tierconf.errors import missing_extra
from tierconf.integrations._lease import ClientClosedError, Lease, Leased
from tierconf.integrations._live import LiveSource, Subscription, lookup_secret
from tierconf.integrations._metrics import client_metrics
from tierconf.integrations._probe import ProbeResult, timed_probe
from tierconf.integrations._replica import ReplicaMonitor, ReplicaRotation, ReplicaStatus
from tierconf.schema import TierConfig
from tierconf.schema._database import PostgresSettings

try:
    import psycopg
    import sqlalchemy
    from psycopg.conninfo import make_conninfo
    from sqlalchemy import URL, CompoundSelect, Connection, Engine, Select, event
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError
    from sqlalchemy.orm import Session, SessionTransaction, SessionTransactionOrigin
    from sqlalchemy.sql import ClauseElement
except ImportError as exc:
    raise missing_extra(exc.name or "SQLAlchemy", "integrations") from exc

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = [
    "EngineSpec",
    "EngineSpecs",
    "PostgresRouter",
    "ReplicaStatus",
    "RoutingSession",
    "create_engine",
    "engine_specs",
    "probe_postgres",
    "probe_replica",
]

_log = logging.getLogger("tierconf.integrations.postgres")

T = TypeVar("T")
Role = Literal["primary", "replica"]

#: PostgreSQL keeps NAMEDATALEN - 1 bytes of application_name.
_APPLICATION_NAME_MAX = 63
#: Replication lag in seconds; 0 when all WAL received has been replayed (an idle primary
#: sends no transactions, so the replay timestamp alone would make a healthy replica "lag").
LAG_SQL = (
    "SELECT pg_is_in_recovery(), "
    "CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 "
    # No transaction replayed since the standby started, yet WAL is waiting: the lag is at
    # least that long, so the uptime is a safe (conservative) stand-in.
    "ELSE EXTRACT(EPOCH FROM now() - "
    "COALESCE(pg_last_xact_replay_timestamp(), pg_postmaster_start_time())) END"
)


# --------------------------------------------------------------------------------------------
# Specs: settings to data, pure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EngineSpec:
    """Everything one engine is built from; equal specs mean the engine need not change.

    ``repr`` never shows the password.
    """

    role: Role
    host: str
    port: int
    database: str
    user: str
    password: str | None = field(repr=False)
    pool_size: int
    max_overflow: int
    pool_timeout: int
    pool_recycle: int
    pool_pre_ping: bool
    sslmode: str
    connect_timeout: int
    statement_timeout_ms: int
    application_name: str

    @property
    def target(self) -> str:
        """``host:port``, as logs and metrics name the server."""
        return f"{self.host}:{self.port}"

    def connect_args(self) -> dict[str, str | int]:
        """libpq parameters that are not part of the URL."""
        return {
            "sslmode": self.sslmode,
            "connect_timeout": self.connect_timeout,
            "application_name": self.application_name,
            "options": f"-c statement_timeout={self.statement_timeout_ms}",
        }

    def conninfo(self, *, timeout: float | None = None) -> dict[str, str | int]:
        """psycopg ``connect()`` keyword arguments; ``timeout`` bounds connect and statements."""
        args: dict[str, str | int] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "user": self.user,
            **self.connect_args(),
        }
        if self.password is not None:
            args["password"] = self.password
        if timeout is not None:
            args["connect_timeout"] = max(2, math.ceil(timeout))  # libpq's floor is 2 s
            args["options"] = f"-c statement_timeout={max(1, int(timeout * 1000))}"
        return args

    def url(self) -> URL:
        """The SQLAlchemy URL (psycopg 3 driver)."""
        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.database,
        )


@dataclass(frozen=True)
class EngineSpecs:
    """The primary's spec and the replica's (``None`` when no replica is enabled)."""

    primary: EngineSpec
    replica: EngineSpec | None


def application_name(base: str, tenant: str | None) -> str:
    """``base/tenant`` (``base`` alone without a tenant), cut to the 63 bytes PostgreSQL keeps."""
    name = f"{base}/{tenant}" if tenant else base
    return name.encode()[:_APPLICATION_NAME_MAX].decode(errors="ignore")


def engine_specs(
    settings: PostgresSettings, *, password: str | None, tenant: str | None = None
) -> EngineSpecs:
    """The engine specs ``database.postgres`` describes (no I/O).

    The replica shares the primary's database, role, TLS and timeouts, with its own host,
    port and pool; it exists when ``read_replica.enabled`` and ``read_replica.host`` are set.
    """
    common: dict[str, Any] = {
        "database": settings.name,
        "user": settings.user,
        "password": password,
        "pool_timeout": settings.pool_timeout,
        "pool_recycle": settings.pool_recycle,
        "pool_pre_ping": settings.pool_pre_ping,
        "sslmode": settings.sslmode,
        "connect_timeout": settings.connect_timeout,
        "statement_timeout_ms": settings.statement_timeout,
        "application_name": application_name(settings.application_name, tenant),
    }
    primary = EngineSpec(
        role="primary",
        host=settings.host,
        port=settings.port,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        **common,
    )
    replica_settings = settings.read_replica
    replica = None
    if replica_settings.enabled and replica_settings.host:
        replica = EngineSpec(
            role="replica",
            host=replica_settings.host,
            port=replica_settings.port,
            pool_size=replica_settings.pool_size,
            max_overflow=replica_settings.max_overflow,
            **common,
        )
    return EngineSpecs(primary, replica)


def spec_changes(old: EngineSpec | None, new: EngineSpec | None) -> list[str]:
    """Human list of what differs between two specs (the password only by name)."""
    if old is None or new is None:
        return [] if old == new else [f"replica {'added' if old is None else 'removed'}"]
    changes = []
    for f in fields(EngineSpec):
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before != after:
            changes.append(f.name if f.name == "password" else f"{f.name} {before} -> {after}")
    return changes


# --------------------------------------------------------------------------------------------
# Engines and probes: I/O
# --------------------------------------------------------------------------------------------


def create_engine(spec: EngineSpec) -> Engine:
    """A SQLAlchemy engine with the pool and connection settings of ``spec`` (no connection yet)."""
    return sqlalchemy.create_engine(
        spec.url(),
        pool_size=spec.pool_size,
        max_overflow=spec.max_overflow,
        pool_timeout=spec.pool_timeout,
        pool_recycle=spec.pool_recycle,
        pool_pre_ping=spec.pool_pre_ping,
        connect_args=spec.connect_args(),
    )


def probe_postgres(spec: EngineSpec, timeout: float) -> ProbeResult:
    """Connect and run ``SELECT 1`` within about ``timeout`` seconds (a fresh connection)."""

    def check() -> dict[str, object]:
        with psycopg.connect(make_conninfo("", **spec.conninfo(timeout=timeout))) as conn:
            conn.execute("SELECT 1")
            return {"server_version": conn.info.server_version}

    return timed_probe(spec.target, check, (psycopg.Error,), secrets=(spec.password,))


def probe_replica(spec: EngineSpec, timeout: float, *, max_lag_seconds: float) -> ProbeResult:
    """Whether the replica is a reachable standby lagging at most ``max_lag_seconds``.

    Details: ``in_recovery`` and ``lag_seconds`` (when it answered).
    """

    def check() -> dict[str, object]:
        with psycopg.connect(make_conninfo("", **spec.conninfo(timeout=timeout))) as conn:
            row = conn.execute(LAG_SQL).fetchone()
        in_recovery, lag = row if row is not None else (False, None)
        return {"in_recovery": bool(in_recovery), "lag_seconds": None if lag is None else float(lag)}

    def unhealthy(details: Mapping[str, object]) -> str | None:
        if not details["in_recovery"]:
            return "not a standby (pg_is_in_recovery() is false)"
        lag = details["lag_seconds"]
        if isinstance(lag, float) and lag > max_lag_seconds:
            return f"lag {lag:.1f} s above the {max_lag_seconds:g} s bound"
        return None

    return timed_probe(spec.target, check, (psycopg.Error,), secrets=(spec.password,), unhealthy=unhealthy)


@dataclass(frozen=True)
class _Engines:
    """One generation of engines, swapped as a whole."""

    specs: EngineSpecs
    primary: Engine
    replica: Engine | None


def _build(specs: EngineSpecs) -> _Engines:
    replica = create_engine(specs.replica) if specs.replica is not None else None
    return _Engines(specs, create_engine(specs.primary), replica)


def _dispose(engines: _Engines) -> None:
    for engine in (engines.primary, engines.replica):
        if engine is None:
            continue
        try:
            engine.dispose()
        except SQLAlchemyError as exc:  # closing a dead server's connections may fail; nothing to do
            _log.warning("disposing the engine of %s failed: %s", engine.url.host, exc)


def _read_on(engine: Engine, fn: Callable[[Connection], T]) -> T:
    with engine.connect() as conn:
        conn.execution_options(postgresql_readonly=True)
        with conn.begin():
            return fn(conn)


def _lost_connection(exc: DBAPIError) -> bool:
    """The error means the server connection is gone (not a bad query or a timeout)."""
    return exc.connection_invalidated or isinstance(exc.orig, psycopg.InterfaceError)


def _worth_retrying_on_primary(exc: DBAPIError) -> bool:
    """Connection loss and standby-only failures (recovery conflicts) are; timeouts are not."""
    if _lost_connection(exc):
        return True
    return isinstance(exc.orig, psycopg.OperationalError) and not isinstance(
        exc.orig, psycopg.errors.QueryCanceled
    )


# --------------------------------------------------------------------------------------------
# Routing session
# --------------------------------------------------------------------------------------------


def _is_plain_read(clause: ClauseElement | None) -> bool:
    """A SELECT built by SQLAlchemy, without FOR UPDATE; ``text()`` may hide a write."""
    if not isinstance(clause, Select | CompoundSelect):
        return False
    # SELECT ... FOR UPDATE locks rows on the primary; SQLAlchemy keeps it in this attribute.
    return getattr(clause, "_for_update_arg", None) is None


class RoutingSession(Session):
    """A Session that sends plain reads to the replica and the rest to the primary.

    Inside a transaction started with ``session.begin()`` every statement goes to the
    primary. In an implicit (autobegun) transaction, plain SELECTs go to the replica (when in
    rotation) until the first write or flush; from then on until the transaction ends every
    statement goes to the primary, so the transaction reads its own writes. ``text()``
    statements go to the primary. Get one from :meth:`PostgresRouter.session`; it holds the
    engines until :meth:`close` (``with router.session() as session:``) and cannot be used
    after it.
    """

    def __init__(self, lease: Lease[_Engines], rotation: ReplicaRotation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tierconf_lease: Lease[_Engines] | None = lease
        self._tierconf_rotation = rotation
        self._tierconf_pinned = False
        event.listen(self, "after_transaction_end", self._tierconf_transaction_end)

    def get_bind(
        self,
        mapper: Any = None,
        *,
        clause: ClauseElement | None = None,
        bind: Any = None,
        **kw: Any,
    ) -> Engine | Connection:
        """The replica for a plain read outside a writing or explicit transaction, else the primary."""
        if bind is not None:
            return super().get_bind(mapper, clause=clause, bind=bind, **kw)
        if self._tierconf_lease is None:
            raise ClientClosedError("this RoutingSession is closed; take a new one from router.session()")
        engines = self._tierconf_lease.value
        transaction = self.get_transaction()
        explicit = transaction is not None and transaction.origin is SessionTransactionOrigin.BEGIN
        if self._tierconf_pinned or explicit or not _is_plain_read(clause):
            self._tierconf_pinned = not explicit
            return engines.primary
        replica = engines.specs.replica
        serves = replica is not None and self._tierconf_rotation.serves(replica.target)
        if engines.replica is not None and serves:
            return engines.replica
        return engines.primary

    def close(self) -> None:
        """Close the session and return its engines to the router."""
        try:
            super().close()
        finally:
            lease, self._tierconf_lease = self._tierconf_lease, None
            if lease is not None:
                lease.release()

    def _tierconf_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            self._tierconf_pinned = False


# --------------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------------


class PostgresRouter:
    """Primary and replica engines that follow a live configuration.

    Args:
        live: Where the configuration and ``DB_PASSWORD`` come from.
        tenant: Appended to ``application_name`` (``spotify-ai-agent/acme``) and a metric label.
        registry: Prometheus registry for the routing metrics (default: the global one).

    ``start()`` (or ``with PostgresRouter(live) as router:``) subscribes to changes of
    ``database.postgres``, checks the replica once and starts the checker thread.
    """

    def __init__(
        self,
        live: LiveSource,
        *,
        tenant: str | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._live = live
        self._tenant = tenant
        self._metrics = client_metrics(registry)
        specs = self._specs(live.snapshot())
        self._engines = Leased(_build(specs), _dispose, name="PostgresRouter")
        self._rotation = ReplicaRotation(tenant or "", self._metrics)
        self._rotation.retarget(specs.replica.target if specs.replica else None)
        self._monitor = ReplicaMonitor(
            self.check_replica, self._check_interval, name=f"tierconf-replica-check-{tenant or 'default'}"
        )
        self._refresh_lock = threading.Lock()
        self._started = False
        self._subscription: Subscription | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Subscribe to configuration changes, check the replica, start the checker (once)."""
        if not self._started:
            self._started = True
            self._subscription = self._live.subscribe(self._on_change, path="database.postgres")
            self.check_replica()
            self._monitor.start()
        return self

    def close(self) -> None:
        """Stop the checker; the engines are disposed once the requests using them are done."""
        with self._refresh_lock:
            if self._closed:
                return
            self._closed = True
        if self._subscription is not None:
            self._subscription.cancel()
        self._monitor.stop(timeout=5.0)
        self._engines.close()
        self._rotation.forget()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- use ---------------------------------------------------------------------------------

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in a read-only transaction on the replica, or on the primary.

        If the replica connection fails (lost, refused, recovery conflict), ``fn`` runs again
        on the primary, so ``fn`` must only read and may run twice. A lost connection also
        takes the replica out of rotation until a later health check passes.
        """
        with self._engines.lease() as engines:
            spec = engines.specs.replica
            if engines.replica is not None and spec is not None and self._rotation.serves(spec.target):
                try:
                    return _read_on(engines.replica, fn)
                except DBAPIError as exc:
                    if not _worth_retrying_on_primary(exc):
                        raise
                    self._replica_read_failed(spec, exc)
            return _read_on(engines.primary, fn)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection to the primary inside a transaction, committed when the block ends."""
        with self._engines.lease() as engines, engines.primary.begin() as conn:
            yield conn

    def session(self, **kwargs: Any) -> RoutingSession:
        """A new :class:`RoutingSession` (``kwargs`` go to ``Session``); close it when done."""
        return RoutingSession(self._engines.acquire(), self._rotation, **kwargs)

    # -- state -------------------------------------------------------------------------------

    @property
    def specs(self) -> EngineSpecs:
        """The specs of the engines new requests get."""
        return self._engines.current.specs

    @property
    def retired_engines(self) -> int:
        """Engine generations replaced by a reload and still waiting for requests to finish."""
        return self._engines.retired_pending

    def replica_status(self) -> ReplicaStatus:
        """Where plain reads go right now, and why."""
        return self._rotation.status()

    # -- configuration and health ------------------------------------------------------------

    def refresh(self, snapshot: TierConfig | None = None) -> bool:
        """Rebuild the engines if ``snapshot`` (default: the live one) or the password changed them.

        Called on every change of ``database.postgres``; call it after rotating
        ``DB_PASSWORD``. Returns whether new engines were built.
        """
        with self._refresh_lock:
            if self._closed:
                return False
            specs = self._specs(snapshot or self._live.snapshot())
            current = self._engines.current.specs
            if specs == current:
                self._monitor.wake()  # the interval or the lag bound may have changed
                return False
            changes = spec_changes(current.primary, specs.primary)
            changes += [f"replica {c}" for c in spec_changes(current.replica, specs.replica)]
            self._engines.swap(_build(specs))
        self._metrics.client_rebuilt("postgres")
        _log.info("PostgreSQL engines rebuilt (%s); old ones close when idle", ", ".join(changes))
        self._rotation.retarget(specs.replica.target if specs.replica else None)
        self._monitor.wake()
        return True

    def check_replica(self) -> ReplicaStatus:
        """Check the replica now and update the rotation (the checker thread calls this)."""
        spec = self._engines.current.specs.replica
        if spec is None or self._closed:
            return self._rotation.status()
        replica_settings = self._live.snapshot().database.postgres.read_replica
        budget = float(min(spec.connect_timeout, max(2, replica_settings.health_check_interval)))
        started = time.monotonic()
        result = probe_replica(spec, budget, max_lag_seconds=replica_settings.max_lag_seconds)
        self._rotation.report_check(
            spec.target, result, started=started, max_lag=replica_settings.max_lag_seconds
        )
        return self._rotation.status()

    def _check_interval(self) -> float:
        return float(self._live.snapshot().database.postgres.read_replica.health_check_interval)

    def _specs(self, snapshot: TierConfig) -> EngineSpecs:
        password = lookup_secret(self._live.secret, "DB_PASSWORD")
        return engine_specs(snapshot.database.postgres, password=password, tenant=self._tenant)

    def _on_change(self, old: TierConfig, new: TierConfig) -> None:
        self.refresh(new)

    def _replica_read_failed(self, spec: EngineSpec, exc: DBAPIError) -> None:
        lines = str(exc.orig).strip().splitlines()
        reason = f"{type(exc.orig).__name__}: {lines[0] if lines else 'no message'}"
        if _lost_connection(exc) or exc.orig is None or _connect_failed(exc):
            self._rotation.report_read_failure(spec.target, f"read failed: {reason}")
        else:
            _log.info("read on replica %s failed (%s); retried on the primary", spec.target, reason)


def _connect_failed(exc: DBAPIError) -> bool:
    """psycopg raises OperationalError from ``connect()`` when the server refuses or is gone."""
    return isinstance(exc.orig, psycopg.OperationalError) and exc.statement is None
