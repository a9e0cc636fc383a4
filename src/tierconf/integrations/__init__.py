"""Ready, tuned clients built from the configuration, following it live (extra ``integrations``).

::

    from tierconf.integrations import PostgresRouter, RedisClients, health_report

    with PostgresRouter(live, tenant="acme") as db, RedisClients(live) as cache:
        rows = db.read(lambda conn: conn.execute(query).all())      # replica, or primary
        with db.transaction() as conn:                              # primary
            conn.execute(update)
        with cache.cache() as r:
            r.incr("hits")
    report = health_report(live.snapshot(), live.secret)           # readiness data

``live`` is anything with ``snapshot()``, ``subscribe()``, ``secret()`` and ``health()``
(:class:`LiveSource`): ``tierconf.runtime.LiveConfig``, or :class:`InMemoryLiveConfig` in
tests. The modules ``postgres``, ``redis``, ``mongo`` and ``elasticsearch`` each import their
client library when first imported; a missing one raises ``DependencyMissingError`` with the
``pip install 'tierconf[integrations]'`` hint. Names below resolve lazily (PEP 562).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ClientClosedError": "tierconf.integrations._lease",
    "InMemoryLiveConfig": "tierconf.integrations._live",
    "LiveSource": "tierconf.integrations._live",
    "SecretLookup": "tierconf.integrations._live",
    "METRIC_NAMES": "tierconf.integrations._metrics",
    "ProbeResult": "tierconf.integrations._probe",
    "ReplicaStatus": "tierconf.integrations._replica",
    "DependencyCheck": "tierconf.integrations.health",
    "health_report": "tierconf.integrations.health",
    "run_checks": "tierconf.integrations.health",
    "EngineSpec": "tierconf.integrations.postgres",
    "PostgresRouter": "tierconf.integrations.postgres",
    "RoutingSession": "tierconf.integrations.postgres",
    "engine_specs": "tierconf.integrations.postgres",
    "RedisClients": "tierconf.integrations.redis",
    "RedisSpec": "tierconf.integrations.redis",
    "redis_specs": "tierconf.integrations.redis",
    "MongoSpec": "tierconf.integrations.mongo",
    "mongo_spec": "tierconf.integrations.mongo",
    "ElasticsearchSpec": "tierconf.integrations.elasticsearch",
    "elasticsearch_spec": "tierconf.integrations.elasticsearch",
}

__all__ = [
    "METRIC_NAMES",
    "ClientClosedError",
    "DependencyCheck",
    "ElasticsearchSpec",
    "EngineSpec",
    "InMemoryLiveConfig",
    "LiveSource",
    "MongoSpec",
    "PostgresRouter",
    "ProbeResult",
    "RedisClients",
    "RedisSpec",
    "ReplicaStatus",
    "RoutingSession",
    "SecretLookup",
    "elasticsearch_spec",
    "engine_specs",
    "health_report",
    "mongo_spec",
    "redis_specs",
    "run_checks",
]

if TYPE_CHECKING:
    from tierconf.integrations._lease import ClientClosedError
    from tierconf.integrations._live import InMemoryLiveConfig, LiveSource, SecretLookup
    from tierconf.integrations._metrics import METRIC_NAMES
    from tierconf.integrations._probe import ProbeResult
    from tierconf.integrations._replica import ReplicaStatus
    from tierconf.integrations.elasticsearch import ElasticsearchSpec, elasticsearch_spec
    from tierconf.integrations.health import DependencyCheck, health_report, run_checks
    from tierconf.integrations.mongo import MongoSpec, mongo_spec
    from tierconf.integrations.postgres import EngineSpec, PostgresRouter, RoutingSession, engine_specs
    from tierconf.integrations.redis import RedisClients, RedisSpec, redis_specs


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tierconf.integrations' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
