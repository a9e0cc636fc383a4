"""Redis from the configuration: the cache and session-store clients, rebuilt on change.

::

    redis_specs(settings, password=..., client_name=...)   pure: settings -> RedisSpecs
    create_client(spec)                                     one redis.Redis over its own pool
    RedisClients(live)                                      follows a LiveSource:
        with clients.cache() as r: r.get(...)               database.redis.db
        with clients.sessions() as r: r.set(...)            database.redis.session_db

Each client has a blocking pool of ``max_connections`` (a request waits up to
``socket_timeout`` for a free connection instead of failing), socket and connect timeouts,
one retry after a lost connection (and after a timeout when ``retry_on_timeout``), idle
connections pinged after ``health_check_interval`` seconds, TLS with or without
verification. A change of ``database.redis`` that touches these settings builds new
clients; the old pools close once the requests holding them are done. Needs the
``integrations`` extra (redis-py).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from tierconf.errors import missing_extra
from tierconf.integrations._lease import Leased
from tierconf.integrations._live import LiveSource, Subscription, lookup_secret
from tierconf.integrations._metrics import client_metrics
from tierconf.integrations._probe import ProbeResult, timed_probe
from tierconf.schema import TierConfig
from tierconf.schema._database import RedisSettings

try:
    import redis
    from redis.backoff import ExponentialBackoff, NoBackoff
    from redis.retry import Retry
except ImportError as exc:
    raise missing_extra(exc.name or "redis", "integrations") from exc

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["RedisClients", "RedisSpec", "RedisSpecs", "create_client", "probe_redis", "redis_specs"]

_log = logging.getLogger("tierconf.integrations.redis")


@dataclass(frozen=True, kw_only=True)
class RedisSpec:
    """Everything one Redis client is built from; ``repr`` never shows the password."""

    host: str
    port: int
    db: int
    password: str | None = field(repr=False)
    max_connections: int
    socket_timeout: float
    connect_timeout: float
    retry_on_timeout: bool
    health_check_interval: int
    tls: bool
    tls_verify: bool
    client_name: str | None = None

    @property
    def target(self) -> str:
        """``host:port/db``, as logs name the server."""
        return f"{self.host}:{self.port}/{self.db}"

    def connection_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of redis-py's connection classes (the pool passes them on)."""
        retried: tuple[type[Exception], ...] = (redis.ConnectionError,)
        if self.retry_on_timeout:
            retried += (redis.TimeoutError, socket.timeout)
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "password": self.password,
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.connect_timeout,
            "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), 1, supported_errors=retried),
            "health_check_interval": self.health_check_interval,
            "client_name": self.client_name,
        }
        if self.tls:
            kwargs["ssl_cert_reqs"] = "required" if self.tls_verify else "none"
            kwargs["ssl_check_hostname"] = self.tls_verify
        return kwargs


@dataclass(frozen=True)
class RedisSpecs:
    """The cache client's spec and the session store's (same server, its own db index)."""

    cache: RedisSpec
    sessions: RedisSpec


def redis_specs(
    settings: RedisSettings, *, password: str | None, client_name: str | None = None
) -> RedisSpecs:
    """The client specs ``database.redis`` describes (no I/O).

    ``server_maxclients`` and ``session_ttl`` are not client settings: changing them
    rebuilds nothing.
    """
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "password": password,
        "max_connections": settings.max_connections,
        "socket_timeout": settings.socket_timeout,
        "connect_timeout": settings.connect_timeout,
        "retry_on_timeout": settings.retry_on_timeout,
        "health_check_interval": settings.health_check_interval,
        "tls": settings.tls,
        "tls_verify": settings.tls_verify,
        "client_name": client_name,
    }
    return RedisSpecs(RedisSpec(db=settings.db, **common), RedisSpec(db=settings.session_db, **common))


def create_client(spec: RedisSpec) -> redis.Redis:
    """A ``redis.Redis`` over its own blocking pool of ``spec.max_connections`` (no I/O yet)."""
    connection_class = redis.SSLConnection if spec.tls else redis.Connection
    # redis-py leaves BlockingConnectionPool.__init__ unannotated.
    pool = redis.BlockingConnectionPool(  # type: ignore[no-untyped-call]
        connection_class=connection_class,
        max_connections=spec.max_connections,
        timeout=spec.socket_timeout,
        **spec.connection_kwargs(),
    )
    return redis.Redis(connection_pool=pool)


def close_client(client: redis.Redis) -> None:
    """Close every connection of the client's pool (idle ones; callers hold no lease)."""
    try:
        client.connection_pool.disconnect()
    except (redis.RedisError, OSError) as exc:
        _log.warning("closing a Redis pool failed: %s", exc)


def probe_redis(spec: RedisSpec, timeout: float) -> ProbeResult:
    """PING on a fresh connection within about ``timeout`` seconds, without retries."""

    def check() -> dict[str, object]:
        kwargs = spec.connection_kwargs()
        kwargs.update(socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
        pool = redis.ConnectionPool(
            connection_class=redis.SSLConnection if spec.tls else redis.Connection,
            max_connections=1,
            **kwargs,
        )
        client = redis.Redis(connection_pool=pool)
        try:
            client.ping()
        finally:
            pool.disconnect()
        return {}

    return timed_probe(spec.target, check, (redis.RedisError, OSError), secrets=(spec.password,))


@dataclass(frozen=True)
class _Clients:
    specs: RedisSpecs
    cache: redis.Redis
    sessions: redis.Redis


def _build(specs: RedisSpecs) -> _Clients:
    return _Clients(specs, create_client(specs.cache), create_client(specs.sessions))


def _dispose(clients: _Clients) -> None:
    close_client(clients.cache)
    close_client(clients.sessions)


class RedisClients:
    """The cache and session-store clients, following a live configuration.

    Args:
        live: Where the configuration and ``REDIS_PASSWORD`` come from.
        client_name: ``CLIENT SETNAME`` of every connection (shown by ``CLIENT LIST``).
        registry: Prometheus registry for the rebuild counter (default: the global one).

    Use a client only inside its block (``with clients.cache() as r:``): the block holds
    the pool, so a rebuild never closes a connection under a running command.
    """

    def __init__(
        self,
        live: LiveSource,
        *,
        client_name: str | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._live = live
        self._client_name = client_name
        self._metrics = client_metrics(registry)
        self._clients = Leased(_build(self._specs(live.snapshot())), _dispose, name="RedisClients")
        self._refresh_lock = threading.Lock()
        self._started = False
        self._subscription: Subscription | None = None
        self._closed = False

    def start(self) -> Self:
        """Subscribe to changes of ``database.redis`` (once)."""
        if not self._started:
            self._started = True
            self._subscription = self._live.subscribe(self._on_change, path="database.redis")
        return self

    def close(self) -> None:
        """Close the pools once the requests using them are done (idempotent)."""
        with self._refresh_lock:
            self._closed = True
        if self._subscription is not None:
            self._subscription.cancel()
        self._clients.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def cache(self) -> Iterator[redis.Redis]:
        """The cache client (``database.redis.db``) for the duration of the block."""
        with self._clients.lease() as clients:
            yield clients.cache

    @contextmanager
    def sessions(self) -> Iterator[redis.Redis]:
        """The session-store client (``database.redis.session_db``) for the block."""
        with self._clients.lease() as clients:
            yield clients.sessions

    @property
    def session_ttl(self) -> int:
        """Lifetime of a session entry in seconds, from the live configuration."""
        return self._live.snapshot().database.redis.session_ttl

    @property
    def specs(self) -> RedisSpecs:
        """The specs of the clients new requests get."""
        return self._clients.current.specs

    @property
    def retired_clients(self) -> int:
        """Client generations replaced by a reload and still held by running requests."""
        return self._clients.retired_pending

    def refresh(self, snapshot: TierConfig | None = None) -> bool:
        """Rebuild the clients if ``snapshot`` (default: the live one) or the password changed them.

        Called on every change of ``database.redis``; call it after rotating
        ``REDIS_PASSWORD``. Returns whether new clients were built.
        """
        with self._refresh_lock:
            if self._closed:
                return False
            specs = self._specs(snapshot or self._live.snapshot())
            if specs == self._clients.current.specs:
                return False
            self._clients.swap(_build(specs))
        self._metrics.client_rebuilt("redis")
        _log.info("Redis clients rebuilt for %s; old pools close when idle", specs.cache.target)
        return True

    def _specs(self, snapshot: TierConfig) -> RedisSpecs:
        password = lookup_secret(self._live.secret, "REDIS_PASSWORD")
        return redis_specs(snapshot.database.redis, password=password, client_name=self._client_name)

    def _on_change(self, old: TierConfig, new: TierConfig) -> None:
        self.refresh(new)
