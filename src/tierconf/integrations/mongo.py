"""MongoDB from the configuration: a pymongo client with the pool and timeouts, and a probe.

::

    mongo_spec(settings, password=..., app_name=...)   pure: settings -> MongoSpec
    create_client(spec)                                 pymongo.MongoClient (connects lazily)
    probe_mongo(spec, timeout)                          ping on a short-lived client

The client authenticates against ``database.mongodb.database`` (``authSource``) when
``MONGO_PASSWORD`` has a value. Needs the ``integrations`` extra (pymongo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tierconf.errors import missing_extra
from tierconf.integrations._probe import ProbeResult, timed_probe
from tierconf.schema._database import MongoSettings

try:
    import pymongo
    from pymongo.errors import PyMongoError
except ImportError as exc:
    raise missing_extra(exc.name or "pymongo", "integrations") from exc

__all__ = ["MongoSpec", "create_client", "mongo_spec", "probe_mongo"]

Document = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class MongoSpec:
    """Everything the client is built from; ``repr`` never shows the password."""

    host: str
    port: int
    database: str
    user: str
    password: str | None = field(repr=False)
    max_pool_size: int
    min_pool_size: int
    server_selection_timeout_ms: int
    tls: bool
    app_name: str | None = None

    @property
    def target(self) -> str:
        """``host:port``, as logs name the server."""
        return f"{self.host}:{self.port}"

    def client_kwargs(self, *, timeout: float | None = None) -> dict[str, Any]:
        """``MongoClient`` keyword arguments; ``timeout`` (seconds) bounds every wait of a probe."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "maxPoolSize": self.max_pool_size,
            "minPoolSize": self.min_pool_size,
            "serverSelectionTimeoutMS": self.server_selection_timeout_ms,
            "tls": self.tls,
            "appname": self.app_name,
            "connect": False,
        }
        if self.password is not None:
            kwargs.update(username=self.user, password=self.password, authSource=self.database)
        if timeout is not None:
            ms = max(1, int(timeout * 1000))
            kwargs.update(
                serverSelectionTimeoutMS=ms,
                connectTimeoutMS=ms,
                socketTimeoutMS=ms,
                maxPoolSize=1,
                minPoolSize=0,
            )
        return kwargs


def mongo_spec(settings: MongoSettings, *, password: str | None, app_name: str | None = None) -> MongoSpec:
    """The client spec ``database.mongodb`` describes (no I/O)."""
    return MongoSpec(
        host=settings.host,
        port=settings.port,
        database=settings.database,
        user=settings.user,
        password=password,
        max_pool_size=settings.max_pool_size,
        min_pool_size=settings.min_pool_size,
        server_selection_timeout_ms=settings.server_selection_timeout_ms,
        tls=settings.tls,
        app_name=app_name,
    )


def create_client(spec: MongoSpec) -> pymongo.MongoClient[Document]:
    """A ``MongoClient`` with the pool and timeouts of ``spec``; it connects on first use."""
    return pymongo.MongoClient(**spec.client_kwargs())


def probe_mongo(spec: MongoSpec, timeout: float) -> ProbeResult:
    """``ping`` on a short-lived client whose every wait is bounded by ``timeout`` seconds."""

    def check() -> dict[str, object]:
        client: pymongo.MongoClient[Document] = pymongo.MongoClient(**spec.client_kwargs(timeout=timeout))
        try:
            client.admin.command("ping")
        finally:
            client.close()
        return {}

    return timed_probe(spec.target, check, (PyMongoError,), secrets=(spec.password,))
