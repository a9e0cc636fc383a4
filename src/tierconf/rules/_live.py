"""Rules fed by ``validate --live`` (``tierconf.live``): registered here for the docs,
SARIF metadata and silences; they have no static check.

Capacity findings from live data reuse ``CAP-PG-CONNECTIONS`` and
``CAP-REDIS-CONNECTIONS`` with the server's real numbers.
"""

from __future__ import annotations

from tierconf.rules._engine import RuleSet, tiers

LIVE = RuleSet("live")
UNREACHABLE = tiers("error", "error", "error", "error")
INFO = tiers("info", "info", "info", "info")

LIVE.add(
    "LIVE-PG-UNREACHABLE",
    title="PostgreSQL server unreachable",
    rationale="The configured host and port do not answer within the connect timeout: the "
    "application would fail its readiness checks.",
    citation="PostgreSQL documentation, libpq connect_timeout",
    fix="check DB_HOST / DB_PORT (DB_READ_HOST / DB_READ_PORT), DNS, network policies and "
    "that the server runs",
    severity=UNREACHABLE,
)
LIVE.add(
    "LIVE-PG-AUTH",
    title="PostgreSQL refused the credentials or the database",
    rationale="The server answered but rejected DB_USER / DB_PASSWORD, the database name, or "
    "the TLS requirements of DB_SSLMODE.",
    citation="PostgreSQL documentation, Client Authentication (pg_hba.conf)",
    fix="check DB_USER, DB_NAME, DB_SSLMODE and the DB_PASSWORD secret source",
    severity=UNREACHABLE,
)
LIVE.add(
    "LIVE-PG-SERVER",
    title="PostgreSQL server facts",
    rationale="Version, TLS and the real connection limits, as read from the server.",
    citation="PostgreSQL documentation, SHOW and pg_stat_activity",
    fix="",
    severity=INFO,
)
LIVE.add(
    "LIVE-PG-TLS",
    title="PostgreSQL connection not encrypted",
    rationale="The connection succeeded without TLS (DB_SSLMODE allows falling back to "
    "plaintext): credentials and data crossed the network in clear.",
    citation="OWASP ASVS 4.0.3 V9.2.2; ASVS 5.0 V12.3.1",
    fix="enable ssl on the server and set DB_SSLMODE=verify-full",
    severity=tiers(None, "info", "error", "error"),
)
LIVE.add(
    "LIVE-REDIS-UNREACHABLE",
    title="Redis server unreachable",
    rationale="The configured host and port do not answer within REDIS_CONNECT_TIMEOUT.",
    citation="redis-py documentation, socket_connect_timeout",
    fix="check REDIS_HOST / REDIS_PORT / REDIS_TLS, DNS, network policies and that Redis runs",
    severity=UNREACHABLE,
)
LIVE.add(
    "LIVE-REDIS-AUTH",
    title="Redis refused the credentials",
    rationale="Redis answered but requires a password (NOAUTH) or rejected the one given.",
    citation="Redis documentation, AUTH",
    fix="check the REDIS_PASSWORD secret source",
    severity=UNREACHABLE,
)
LIVE.add(
    "LIVE-REDIS-SERVER",
    title="Redis server facts",
    rationale="Version, TLS, maxclients and connected clients, as read from the server.",
    citation="Redis documentation, INFO and CONFIG GET",
    fix="",
    severity=INFO,
)
LIVE.add(
    "LIVE-MONGO-UNREACHABLE",
    title="MongoDB unreachable",
    rationale="No TCP connection (or no server selected) within the timeout.",
    citation="MongoDB documentation, serverSelectionTimeoutMS",
    fix="check MONGO_HOST / MONGO_PORT, DNS, network policies and that MongoDB runs",
    severity=UNREACHABLE,
)
LIVE.add(
    "LIVE-ES-UNREACHABLE",
    title="ElasticSearch unreachable",
    rationale="No TCP connection (or no cluster answer) within the timeout.",
    citation="Elasticsearch documentation, HTTP transport",
    fix="check ELASTICSEARCH_HOST / ELASTICSEARCH_PORT / ELASTICSEARCH_SCHEME and that the cluster runs",
    severity=UNREACHABLE,
)
