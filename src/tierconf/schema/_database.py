"""The ``database`` domain: PostgreSQL (primary + read replica), Redis, MongoDB, ElasticSearch.

Rendered into the ``spotify-ai-agent-database-config`` ConfigMap; the passwords go to a
Secret. Pool sizes are per worker process: the capacity rule multiplies them by
``application.server.max_workers`` and ``application.scaling.max_replicas`` and compares
the result with the declared server limits (``server_max_connections``,
``server_maxclients``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from tierconf.schema._fields import DOMAIN_MODEL_CONFIG, group, setting
from tierconf.schema._secret_ref import SecretRef

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
HttpScheme = Literal["http", "https"]

__all__ = [
    "DatabaseConfig",
    "ElasticsearchSettings",
    "HttpScheme",
    "MongoSettings",
    "PostgresReadReplica",
    "PostgresSettings",
    "RedisSettings",
    "SslMode",
]


class PostgresReadReplica(BaseModel):
    """The PostgreSQL streaming replica that serves read-only queries."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(
        False,
        key="DB_READ_REPLICA_ENABLED",
        description="Whether read-only queries are routed to the read replica.",
    )
    host: str | None = setting(
        None,
        key="DB_READ_HOST",
        description="Hostname of the read replica; unset routes every query to the primary.",
        min_length=1,
    )
    port: int = setting(5432, key="DB_READ_PORT", description="TCP port of the read replica.", ge=1, le=65535)
    pool_size: int = setting(
        10,
        key="DB_READ_POOL_SIZE",
        description="Replica connections kept open per worker process.",
        unit="connections",
        ge=1,
        le=500,
    )
    max_overflow: int = setting(
        5,
        key="DB_READ_MAX_OVERFLOW",
        description="Extra replica connections a worker may open above its pool under load.",
        unit="connections",
        ge=0,
        le=500,
    )
    max_lag_seconds: int = setting(
        10,
        key="DB_READ_MAX_LAG_SECONDS",
        description="Replication lag above which reads fall back to the primary.",
        unit="seconds",
        ge=0,
        le=3600,
    )
    health_check_interval: int = setting(
        30,
        key="DB_READ_HEALTH_CHECK_INTERVAL",
        description="Seconds between health and lag checks of the replica.",
        unit="seconds",
        ge=1,
        le=3600,
    )


class PostgresSettings(BaseModel):
    """PostgreSQL primary connection and pool (SQLAlchemy semantics)."""

    model_config = DOMAIN_MODEL_CONFIG

    host: str = setting(
        "postgres", key="DB_HOST", description="Hostname of the PostgreSQL primary.", min_length=1
    )
    port: int = setting(
        5432, key="DB_PORT", description="TCP port of the PostgreSQL primary.", ge=1, le=65535
    )
    name: str = setting(
        "spotify_ai_agent",
        key="DB_NAME",
        description="Name of the application database.",
        min_length=1,
        max_length=63,
    )
    user: str = setting(
        "spotify_ai_agent",
        key="DB_USER",
        description="Role the application connects as.",
        min_length=1,
        max_length=63,
    )
    password: SecretRef | None = setting(
        None, key="DB_PASSWORD", description="Password of DB_USER.", secret=True
    )
    pool_size: int = setting(
        10,
        key="DB_POOL_SIZE",
        description="Connections kept open per worker process.",
        unit="connections",
        ge=1,
        le=500,
    )
    max_overflow: int = setting(
        5,
        key="DB_MAX_OVERFLOW",
        description="Extra connections a worker may open above its pool under load.",
        unit="connections",
        ge=0,
        le=500,
    )
    pool_timeout: int = setting(
        30,
        key="DB_POOL_TIMEOUT",
        description="Seconds a request waits for a free pooled connection before failing.",
        unit="seconds",
        ge=1,
        le=600,
    )
    pool_recycle: int = setting(
        1800,
        key="DB_POOL_RECYCLE",
        description="Seconds after which a pooled connection is closed and reopened.",
        unit="seconds",
        ge=60,
        le=86400,
    )
    pool_pre_ping: bool = setting(
        True,
        key="DB_POOL_PRE_PING",
        description="Whether a pooled connection is tested before each checkout.",
    )
    sslmode: SslMode = setting(
        "require", key="DB_SSLMODE", description="libpq sslmode of connections to PostgreSQL."
    )
    statement_timeout: int = setting(
        30000,
        key="DB_STATEMENT_TIMEOUT_MS",
        description="Longest a single SQL statement may run before the server cancels it.",
        unit="milliseconds",
        ge=0,
        le=3_600_000,
    )
    connect_timeout: int = setting(
        10,
        key="DB_CONNECT_TIMEOUT",
        description="Seconds to wait when opening a new connection.",
        unit="seconds",
        ge=1,
        le=300,
    )
    application_name: str = setting(
        "spotify-ai-agent",
        key="DB_APPLICATION_NAME",
        description="application_name reported to PostgreSQL (shown in pg_stat_activity).",
        min_length=1,
        max_length=63,
    )
    server_max_connections: int = setting(
        100,
        key="DB_SERVER_MAX_CONNECTIONS",
        description="max_connections of the server (or PgBouncer max_client_conn) DB_HOST is.",
        unit="connections",
        ge=1,
        le=100000,
    )
    superuser_reserved_connections: int = setting(
        3,
        key="DB_SUPERUSER_RESERVED_CONNECTIONS",
        description="Connections the server keeps for superusers, unusable by the application.",
        unit="connections",
        ge=0,
        le=1000,
    )
    read_replica: PostgresReadReplica = group(PostgresReadReplica)


class RedisSettings(BaseModel):
    """Redis: cache, rate-limit counters and the session store."""

    model_config = DOMAIN_MODEL_CONFIG

    host: str = setting("redis", key="REDIS_HOST", description="Hostname of Redis.", min_length=1)
    port: int = setting(6379, key="REDIS_PORT", description="TCP port of Redis.", ge=1, le=65535)
    db: int = setting(0, key="REDIS_DB", description="Logical database index of the cache.", ge=0, le=15)
    password: SecretRef | None = setting(
        None, key="REDIS_PASSWORD", description="Password (AUTH) of Redis.", secret=True
    )
    max_connections: int = setting(
        50,
        key="REDIS_MAX_CONNECTIONS",
        description="Most connections the pool of one worker process may open.",
        unit="connections",
        ge=1,
        le=10000,
    )
    socket_timeout: float = setting(
        5.0,
        key="REDIS_SOCKET_TIMEOUT",
        description="Seconds a Redis command may wait on the socket.",
        unit="seconds",
        gt=0,
        le=300,
    )
    connect_timeout: float = setting(
        5.0,
        key="REDIS_CONNECT_TIMEOUT",
        description="Seconds to wait when opening a connection to Redis.",
        unit="seconds",
        gt=0,
        le=300,
    )
    retry_on_timeout: bool = setting(
        True,
        key="REDIS_RETRY_ON_TIMEOUT",
        description="Whether a command that timed out is retried once.",
    )
    health_check_interval: int = setting(
        30,
        key="REDIS_HEALTH_CHECK_INTERVAL",
        description="Seconds of idleness after which a connection is pinged before use.",
        unit="seconds",
        ge=0,
        le=3600,
    )
    tls: bool = setting(True, key="REDIS_TLS", description="Whether connections to Redis use TLS.")
    tls_verify: bool = setting(
        True,
        key="REDIS_TLS_VERIFY",
        description="Whether the Redis server certificate and hostname are verified.",
    )
    server_maxclients: int = setting(
        10000,
        key="REDIS_SERVER_MAXCLIENTS",
        description="maxclients of the Redis server, the ceiling of all pools together.",
        unit="connections",
        ge=1,
        le=1_000_000,
    )
    session_db: int = setting(
        1,
        key="REDIS_SESSION_DB",
        description="Logical database index of the session store.",
        ge=0,
        le=15,
    )
    session_ttl: int = setting(
        43200,
        key="REDIS_SESSION_TTL",
        description="Lifetime of a session entry in Redis.",
        unit="seconds",
        ge=60,
        le=2592000,
    )


class MongoSettings(BaseModel):
    """MongoDB: analytics and listening-history documents."""

    model_config = DOMAIN_MODEL_CONFIG

    host: str = setting("mongodb", key="MONGO_HOST", description="Hostname of MongoDB.", min_length=1)
    port: int = setting(27017, key="MONGO_PORT", description="TCP port of MongoDB.", ge=1, le=65535)
    database: str = setting(
        "spotify_ai_analytics",
        key="MONGO_DATABASE",
        description="Name of the analytics database.",
        min_length=1,
        max_length=63,
    )
    user: str = setting(
        "spotify_ai_agent", key="MONGO_USER", description="User the application authenticates as."
    )
    password: SecretRef | None = setting(
        None, key="MONGO_PASSWORD", description="Password of MONGO_USER.", secret=True
    )
    max_pool_size: int = setting(
        50,
        key="MONGO_MAX_POOL_SIZE",
        description="Most connections one worker process keeps to each MongoDB server.",
        unit="connections",
        ge=1,
        le=10000,
    )
    min_pool_size: int = setting(
        0,
        key="MONGO_MIN_POOL_SIZE",
        description="Connections one worker process keeps open even when idle.",
        unit="connections",
        ge=0,
        le=10000,
    )
    server_selection_timeout_ms: int = setting(
        30000,
        key="MONGO_SERVER_SELECTION_TIMEOUT_MS",
        description="How long the driver looks for a suitable server before failing.",
        unit="milliseconds",
        ge=100,
        le=300000,
    )
    tls: bool = setting(True, key="MONGO_TLS", description="Whether connections to MongoDB use TLS.")


class ElasticsearchSettings(BaseModel):
    """ElasticSearch: the catalogue and lyrics search engine."""

    model_config = DOMAIN_MODEL_CONFIG

    host: str = setting(
        "elasticsearch",
        key="ELASTICSEARCH_HOST",
        description="Hostname of the ElasticSearch cluster.",
        min_length=1,
    )
    port: int = setting(
        9200, key="ELASTICSEARCH_PORT", description="HTTP port of ElasticSearch.", ge=1, le=65535
    )
    scheme: HttpScheme = setting(
        "https", key="ELASTICSEARCH_SCHEME", description="Scheme used to reach ElasticSearch."
    )
    user: str = setting(
        "spotify_ai_agent",
        key="ELASTICSEARCH_USER",
        description="User the application authenticates as.",
    )
    password: SecretRef | None = setting(
        None,
        key="ELASTICSEARCH_PASSWORD",
        description="Password of ELASTICSEARCH_USER.",
        secret=True,
    )
    request_timeout: int = setting(
        30,
        key="ELASTICSEARCH_REQUEST_TIMEOUT",
        description="Seconds one ElasticSearch request may take.",
        unit="seconds",
        ge=1,
        le=600,
    )
    max_retries: int = setting(
        3,
        key="ELASTICSEARCH_MAX_RETRIES",
        description="Retries of a failed request on another node.",
        unit="retries",
        ge=0,
        le=20,
    )
    verify_certs: bool = setting(
        True,
        key="ELASTICSEARCH_VERIFY_CERTS",
        description="Whether the ElasticSearch TLS certificate is verified.",
    )
    index_prefix: str = setting(
        "spotify-ai",
        key="ELASTICSEARCH_INDEX_PREFIX",
        description="Prefix of every index the application creates.",
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
    )


class DatabaseConfig(BaseModel):
    """The ``database`` domain: every data store the platform talks to."""

    model_config = DOMAIN_MODEL_CONFIG

    postgres: PostgresSettings = group(PostgresSettings)
    redis: RedisSettings = group(RedisSettings)
    mongodb: MongoSettings = group(MongoSettings)
    elasticsearch: ElasticsearchSettings = group(ElasticsearchSettings)
