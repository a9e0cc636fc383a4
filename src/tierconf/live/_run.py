"""Running the probes concurrently and turning their hits into findings."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tierconf.findings import Finding
from tierconf.live._net import ProbeResult, live_passwords
from tierconf.live._others import probe_elasticsearch, probe_mongo
from tierconf.live._postgres import PostgresTarget, probe_postgres
from tierconf.live._redis import RedisTarget, probe_redis
from tierconf.pipeline import ResolvedConfig
from tierconf.rules import RULES_BY_CODE, RuleContext, hits_to_findings, make_redactor
from tierconf.rules._capacity import postgres_primary_demand, postgres_replica_demand, redis_demand
from tierconf.secrets import SecretOptions


@dataclass(frozen=True)
class LiveOptions:
    """How live checks connect: per-connection timeout and where passwords come from."""

    timeout: float = 3.0
    secrets: SecretOptions | None = None


def _probes(
    resolved: ResolvedConfig, passwords: dict[str, str], timeout: float
) -> list[Callable[[], ProbeResult]]:
    config = resolved.config
    db = config.database
    postgres = db.postgres
    primary = PostgresTarget(
        "primary",
        postgres.host,
        postgres.port,
        postgres.name,
        postgres.user,
        passwords.get("DB_PASSWORD"),
        postgres.sslmode,
        "database.postgres.host",
        "database.postgres.pool_size",
        "CAP-PG-CONNECTIONS",
        postgres_primary_demand(config),
    )
    probes: list[Callable[[], ProbeResult]] = [lambda: probe_postgres(primary, timeout)]
    replica_demand = postgres_replica_demand(config)
    replica = postgres.read_replica
    if replica_demand is not None and replica.host is not None:
        target = PostgresTarget(
            "read replica",
            replica.host,
            replica.port,
            postgres.name,
            postgres.user,
            passwords.get("DB_PASSWORD"),
            postgres.sslmode,
            "database.postgres.read_replica.host",
            "database.postgres.read_replica.pool_size",
            "CAP-PG-REPLICA-CONNECTIONS",
            replica_demand,
        )
        probes.append(lambda: probe_postgres(target, timeout))
    redis_target = RedisTarget(
        db.redis.host,
        db.redis.port,
        db.redis.db,
        passwords.get("REDIS_PASSWORD"),
        db.redis.tls,
        db.redis.tls_verify,
        redis_demand(config),
    )
    probes.append(lambda: probe_redis(redis_target, timeout))
    probes.append(lambda: probe_mongo(db.mongodb.host, db.mongodb.port, db.mongodb.tls, timeout))
    es = db.elasticsearch
    probes.append(lambda: probe_elasticsearch(es.host, es.port, es.scheme, timeout))
    return probes


def live_findings(resolved: ResolvedConfig, options: LiveOptions | None = None) -> list[Finding]:
    """Probe every configured data store concurrently; findings in a stable order.

    Raises:
        DependencyMissingError: psycopg or redis-py is not installed (extra ``live``).
    """
    options = options or LiveOptions()
    passwords = dict(live_passwords(resolved, options.secrets))
    probes = _probes(resolved, passwords, options.timeout)
    with ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="tierconf-live") as pool:
        results = [future.result() for future in [pool.submit(probe) for probe in probes]]
    ctx = RuleContext(resolved)
    redact = make_redactor(resolved, passwords)
    silences = resolved.tree.project.silence
    findings: list[Finding] = []
    for result in results:
        for code, hit in result.hits:
            findings.extend(hits_to_findings(RULES_BY_CODE[code], [hit], ctx, silences, redact))
    return findings
