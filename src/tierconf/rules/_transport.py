"""Security policy at the transport and browser boundaries: CORS, HSTS, TLS versions and
certificate checks, and TLS to each data store.

Part of the security family (same severities and citations style as ``_security``).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from tierconf.rules._business import is_loopback
from tierconf.rules._engine import RuleContext, RuleHit, RuleSet, shown, tiers

TRANSPORT = RuleSet("security")

ERROR_EVERYWHERE = tiers("error", "error", "error", "error")
STRICT_OUTSIDE_LOCAL = tiers("warning", "error", "error", "error")
RELAXED_IN_DEV = tiers("warning", "warning", "error", "error")
TLS_POLICY = tiers(None, "info", "error", "error")


@TRANSPORT.rule(
    "SEC-CORS-WILDCARD",
    title="CORS allows any origin or the null origin",
    rationale="'*' lets every site read API responses; 'null' is the origin of sandboxed "
    "iframes and local files, which any attacker can produce.",
    citation="OWASP ASVS 4.0.3 V14.5.3; ASVS 5.0 V3.4.2; MDN CORS (Access-Control-Allow-Origin)",
    fix="list the exact front-end origins in ALLOWED_ORIGINS",
    severity=RELAXED_IN_DEV,
)
def cors_wildcard(ctx: RuleContext) -> Iterator[RuleHit]:
    """No '*' or 'null' in ALLOWED_ORIGINS."""
    for origin in ctx.config.application.cors.allowed_origins:
        if origin in ("*", "null"):
            yield RuleHit(
                "application.cors.allowed_origins",
                f"ALLOWED_ORIGINS contains {origin!r}",
                item=origin,
            )


@TRANSPORT.rule(
    "SEC-CORS-WILDCARD-CREDENTIALS",
    title="CORS wildcard with credentials",
    rationale="Browsers refuse '*' with credentials, so frameworks reflect the caller's "
    "Origin instead: every site can then make authenticated requests and read the answers.",
    citation="MDN CORS (Credentialed requests and wildcards); OWASP ASVS 5.0 V3.4.2",
    fix="list exact origins in ALLOWED_ORIGINS or set CORS_ALLOW_CREDENTIALS=false",
    severity=ERROR_EVERYWHERE,
)
def cors_wildcard_credentials(ctx: RuleContext) -> Iterator[RuleHit]:
    """No '*' origin together with CORS_ALLOW_CREDENTIALS."""
    cors = ctx.config.application.cors
    if "*" in cors.allowed_origins and cors.allow_credentials:
        yield RuleHit(
            "application.cors.allowed_origins",
            "ALLOWED_ORIGINS contains '*' while CORS_ALLOW_CREDENTIALS is true",
            item="*",
        )


@TRANSPORT.rule(
    "SEC-CORS-INSECURE-ORIGIN",
    title="CORS origin over plain HTTP",
    rationale="A page served over http:// can be modified in transit; trusting it gives a "
    "network attacker the user's API access.",
    citation="OWASP ASVS 4.0.3 V9.1.1; ASVS 5.0 V3.4.2",
    fix="use https:// origins (loopback origins are reported separately)",
    severity=tiers(None, "warning", "error", "error"),
)
def cors_insecure_origin(ctx: RuleContext) -> Iterator[RuleHit]:
    """ALLOWED_ORIGINS are https (loopback excepted)."""
    for origin in ctx.config.application.cors.allowed_origins:
        parts = urlsplit(origin)
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            yield RuleHit(
                "application.cors.allowed_origins",
                f"origin {shown(origin)} is not https",
                item=origin,
            )


@TRANSPORT.rule(
    "SEC-LOCALHOST-IN-PRODUCTION",
    title="Loopback origin or OAuth redirect in staging or production",
    rationale="Trusting http://localhost lets any program on a user's machine call the API "
    "with the user's credentials or receive their OAuth codes.",
    citation="RFC 8252 §8.3; OWASP ASVS 5.0 V3.4.2 and V10.4.1",
    fix="remove localhost / 127.0.0.1 entries from this tier",
    severity=tiers(None, None, "warning", "error"),
)
def localhost_in_production(ctx: RuleContext) -> Iterator[RuleHit]:
    """No loopback entries in ALLOWED_ORIGINS and OAuth redirect URIs."""
    oauth = ctx.config.security.oauth
    entries = [
        ("application.cors.allowed_origins", o, True) for o in ctx.config.application.cors.allowed_origins
    ]
    entries.append(("security.oauth.redirect_uri", oauth.redirect_uri, False))
    entries += [("security.oauth.allowed_redirect_uris", u, True) for u in oauth.allowed_redirect_uris]
    for path, url, listed in entries:
        if is_loopback(urlsplit(url).hostname or ""):
            yield RuleHit(path, f"{shown(url)} is a loopback address", item=url if listed else None)


TRANSPORT.setting_on(
    "SEC-HSTS-DISABLED",
    "security.headers.hsts_enabled",
    title="HSTS disabled",
    rationale="Without Strict-Transport-Security the first request of a visit can be "
    "downgraded to HTTP and intercepted.",
    citation="RFC 6797; OWASP ASVS 4.0.3 V14.4.5; ASVS 5.0 V3.4.1; MDN Strict-Transport-Security",
    fix="set HSTS_ENABLED=true",
    severity=tiers(None, "warning", "error", "error"),
)


@TRANSPORT.rule(
    "SEC-HSTS-MAX-AGE",
    title="HSTS shorter than a year or not covering subdomains",
    rationale="A short max-age lapses between visits; without includeSubDomains a sibling "
    "host can be used to plant cookies over HTTP.",
    citation="OWASP ASVS 5.0 V3.4.1 (at least one year, all subdomains for L2); RFC 6797 §6.1",
    fix="set HSTS_MAX_AGE >= 31536000 and HSTS_INCLUDE_SUBDOMAINS=true",
    severity=tiers(None, None, "warning", "error"),
)
def hsts_max_age(ctx: RuleContext) -> Iterator[RuleHit]:
    """HSTS_MAX_AGE >= 1 year and HSTS_INCLUDE_SUBDOMAINS (when HSTS is on)."""
    headers = ctx.config.security.headers
    if not headers.hsts_enabled:
        return
    if headers.hsts_max_age < 31_536_000:
        yield RuleHit("security.headers.hsts_max_age", f"HSTS_MAX_AGE is {headers.hsts_max_age} seconds")
    if not headers.hsts_include_subdomains:
        yield RuleHit(
            "security.headers.hsts_include_subdomains",
            "HSTS_INCLUDE_SUBDOMAINS is false",
            soft=True,
        )


@TRANSPORT.rule(
    "SEC-TLS-MIN-VERSION",
    title="TLS below 1.2 accepted",
    rationale="TLS 1.0 and 1.1 are deprecated: weak hashes, no AEAD ciphers, downgrade attacks.",
    citation="RFC 8996; OWASP ASVS 4.0.3 V9.1.3; ASVS 5.0 V12.1.1",
    fix="set TLS_MIN_VERSION=1.2 (or 1.3)",
    severity=STRICT_OUTSIDE_LOCAL,
)
def tls_min_version(ctx: RuleContext) -> Iterator[RuleHit]:
    """TLS_MIN_VERSION >= 1.2."""
    version = ctx.config.security.tls.min_version
    if version in ("1.0", "1.1"):
        yield RuleHit("security.tls.min_version", f"TLS_MIN_VERSION is {version}")


TRANSPORT.setting_on(
    "SEC-TLS-VERIFY-DISABLED",
    "security.tls.verify_certificates",
    title="Certificate verification disabled",
    rationale="TLS without certificate verification encrypts to whoever answers, including "
    "an attacker in the middle.",
    citation="OWASP ASVS 4.0.3 V9.2.1; ASVS 5.0 V12.3.2",
    fix="set TLS_VERIFY_CERTIFICATES=true (trust a private CA instead of disabling checks)",
    severity=RELAXED_IN_DEV,
)


@TRANSPORT.rule(
    "SEC-PG-SSLMODE",
    title="PostgreSQL connection not verified TLS",
    rationale="disable/allow/prefer fall back to plaintext; require and verify-ca encrypt but "
    "accept a server with another name. Only verify-full checks the certificate and host.",
    citation="PostgreSQL documentation, libpq SSL Support (SSL Mode Descriptions); "
    "OWASP ASVS 4.0.3 V9.2.2; ASVS 5.0 V12.3.1 and V12.3.2",
    fix="set DB_SSLMODE=verify-full",
    severity=TLS_POLICY,
)
def pg_sslmode(ctx: RuleContext) -> Iterator[RuleHit]:
    """DB_SSLMODE is verify-full (require/verify-ca one level softer)."""
    mode = ctx.config.database.postgres.sslmode
    if mode in ("disable", "allow", "prefer"):
        yield RuleHit("database.postgres.sslmode", f"DB_SSLMODE {mode} may connect without TLS")
    elif mode in ("require", "verify-ca"):
        yield RuleHit(
            "database.postgres.sslmode",
            f"DB_SSLMODE {mode} does not check the server's host name",
            soft=True,
        )


@TRANSPORT.rule(
    "SEC-REDIS-TLS",
    title="Redis without verified TLS",
    rationale="Redis carries sessions and rate-limit state; in plaintext they can be read "
    "and forged on the network.",
    citation="OWASP ASVS 4.0.3 V9.2.2; ASVS 5.0 V12.3.1 and V12.3.2; Redis documentation, TLS",
    fix="set REDIS_TLS=true and REDIS_TLS_VERIFY=true",
    severity=TLS_POLICY,
)
def redis_tls(ctx: RuleContext) -> Iterator[RuleHit]:
    """REDIS_TLS and REDIS_TLS_VERIFY."""
    redis = ctx.config.database.redis
    if not redis.tls:
        yield RuleHit("database.redis.tls", "REDIS_TLS is false")
    elif not redis.tls_verify:
        yield RuleHit("database.redis.tls_verify", "REDIS_TLS_VERIFY is false", soft=True)


TRANSPORT.setting_on(
    "SEC-MONGO-TLS",
    "database.mongodb.tls",
    title="MongoDB without TLS",
    rationale="Listening history and analytics are personal data; they must not cross the "
    "network in plaintext.",
    citation="OWASP ASVS 4.0.3 V9.2.2; ASVS 5.0 V12.3.1",
    fix="set MONGO_TLS=true",
    severity=TLS_POLICY,
)


@TRANSPORT.rule(
    "SEC-ES-TLS",
    title="ElasticSearch without verified TLS",
    rationale="ElasticSearch credentials and results cross the network; http:// or an "
    "unverified certificate exposes both.",
    citation="OWASP ASVS 4.0.3 V9.2.1 and V9.2.2; ASVS 5.0 V12.3.1 and V12.3.2",
    fix="set ELASTICSEARCH_SCHEME=https and ELASTICSEARCH_VERIFY_CERTS=true",
    severity=TLS_POLICY,
)
def es_tls(ctx: RuleContext) -> Iterator[RuleHit]:
    """ELASTICSEARCH_SCHEME https with verified certificates."""
    es = ctx.config.database.elasticsearch
    if es.scheme != "https":
        yield RuleHit("database.elasticsearch.scheme", "ELASTICSEARCH_SCHEME is http")
    elif not es.verify_certs:
        yield RuleHit("database.elasticsearch.verify_certs", "ELASTICSEARCH_VERIFY_CERTS is false", soft=True)
