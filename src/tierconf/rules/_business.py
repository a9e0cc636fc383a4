"""Business rules: settings that are each valid alone but contradict one another.

Each check compares two or more settings (timeouts that must nest, limits that must be
ordered, hosts and URLs that must be well formed and belong to the tier) and reports the
setting a person would change, with the values on both sides.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from tierconf.rules._engine import RuleContext, RuleHit, RuleSet, label, shown, tiers
from tierconf.tiers import EnvironmentTier

BUSINESS = RuleSet("business")

ERROR_EVERYWHERE = tiers("error", "error", "error", "error")
WARNING_EVERYWHERE = tiers("warning", "warning", "warning", "warning")

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_SIZE = re.compile(r"^([1-9][0-9]*)(KiB|MiB|GiB)$")
_SIZE_UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"})  # noqa: S104 - a list of hosts to recognise, not a bind

#: Host settings that must hold a bare host name or IP address.
HOST_SETTINGS = (
    "application.server.host",
    "database.postgres.host",
    "database.postgres.read_replica.host",
    "database.redis.host",
    "database.mongodb.host",
    "database.elasticsearch.host",
    "monitoring.jaeger.agent_host",
)
#: URL settings that must be absolute http(s) URLs.
URL_SETTINGS = (
    "ml.registry.url",
    "monitoring.grafana.url",
    "security.oauth.redirect_uri",
    "security.oauth.allowed_redirect_uris",
)
#: Settings that point at services of the tier (checked against the tier's own name).
TIER_ENDPOINTS = (
    "database.postgres.host",
    "database.postgres.read_replica.host",
    "database.redis.host",
    "database.mongodb.host",
    "database.elasticsearch.host",
    "monitoring.jaeger.agent_host",
    "ml.registry.url",
    "monitoring.grafana.url",
)
_OTHER_TIER_WORDS = {
    # Not "local": every in-cluster name ends in .svc.cluster.local.
    EnvironmentTier.STAGING: frozenset({"dev", "development", "prod", "production"}),
    EnvironmentTier.PRODUCTION: frozenset(
        {"dev", "development", "staging", "stg", "stage", "test", "qa", "sandbox"}
    ),
}


def _host_of(value: str) -> str:
    if "://" in value:
        return (urlsplit(value).hostname or "").lower()
    return value.lower()


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8, ``::1`` (brackets allowed) or a ``*.localhost`` name."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


BUSINESS.not_above(
    "BIZ-REPLICAS-ORDER",
    "application.scaling.min_replicas",
    "application.scaling.max_replicas",
    title="min_replicas must not exceed max_replicas",
    rationale="The HorizontalPodAutoscaler rejects minReplicas > maxReplicas, so the "
    "deployment would not be scaled at all.",
    citation="Kubernetes API reference, HorizontalPodAutoscalerSpec (minReplicas <= maxReplicas)",
    fix="lower MIN_REPLICAS or raise MAX_REPLICAS",
    severity=ERROR_EVERYWHERE,
)


@BUSINESS.rule(
    "BIZ-AUTOSCALING-FIXED",
    title="Autoscaling enabled with nothing to scale",
    rationale="With min_replicas equal to max_replicas the autoscaler can never change the "
    "replica count; either the range or the flag is a mistake.",
    citation="Kubernetes documentation, Horizontal Pod Autoscaling",
    fix="widen MIN_REPLICAS..MAX_REPLICAS or set AUTO_SCALING_ENABLED=false",
    severity=tiers("info", "info", "warning", "warning"),
)
def autoscaling_fixed(ctx: RuleContext) -> Iterator[RuleHit]:
    """AUTO_SCALING_ENABLED with MIN_REPLICAS == MAX_REPLICAS."""
    scaling = ctx.config.application.scaling
    if scaling.auto_scaling_enabled and scaling.min_replicas == scaling.max_replicas:
        yield RuleHit(
            "application.scaling.auto_scaling_enabled",
            f"autoscaling is on but MIN_REPLICAS and MAX_REPLICAS are both {scaling.max_replicas}",
        )


@BUSINESS.rule(
    "BIZ-WORKER-TIMEOUT",
    title="Worker timeout shorter than the request timeout",
    rationale="gunicorn kills a worker that is silent for WORKER_TIMEOUT seconds: a request "
    "allowed to run longer dies with the worker and every other request it was serving.",
    citation="gunicorn documentation, settings: timeout",
    fix="make WORKER_TIMEOUT at least REQUEST_TIMEOUT",
    severity=ERROR_EVERYWHERE,
)
def worker_timeout(ctx: RuleContext) -> Iterator[RuleHit]:
    """WORKER_TIMEOUT >= REQUEST_TIMEOUT."""
    server = ctx.config.application.server
    if server.worker_timeout < server.request_timeout:
        yield RuleHit(
            "application.server.worker_timeout",
            f"WORKER_TIMEOUT {server.worker_timeout}s is below REQUEST_TIMEOUT {server.request_timeout}s",
        )


@BUSINESS.rule(
    "BIZ-SEARCH-TIMEOUT",
    title="Search timeout outside the request and ElasticSearch timeouts",
    rationale="A search must be cancelled before the HTTP request it serves times out, and "
    "the ElasticSearch client must wait at least as long as the search may run.",
    citation="Elasticsearch Python client documentation, request_timeout",
    fix="keep ELASTICSEARCH_REQUEST_TIMEOUT >= SEARCH_TIMEOUT_SECONDS < REQUEST_TIMEOUT",
    severity=ERROR_EVERYWHERE,
)
def search_timeout(ctx: RuleContext) -> Iterator[RuleHit]:
    """SEARCH_TIMEOUT_SECONDS below REQUEST_TIMEOUT and within ELASTICSEARCH_REQUEST_TIMEOUT."""
    search = ctx.config.application.business.search_timeout_seconds
    request = ctx.config.application.server.request_timeout
    client = ctx.config.database.elasticsearch.request_timeout
    if search >= request:
        yield RuleHit(
            "application.business.search_timeout_seconds",
            f"SEARCH_TIMEOUT_SECONDS {search}s is not below REQUEST_TIMEOUT {request}s",
        )
    if client < search:
        yield RuleHit(
            "database.elasticsearch.request_timeout",
            f"ELASTICSEARCH_REQUEST_TIMEOUT {client}s is below SEARCH_TIMEOUT_SECONDS {search}s: "
            "the client gives up on searches that are still allowed to run",
            soft=True,
        )


@BUSINESS.rule(
    "BIZ-GRACEFUL-TIMEOUT",
    title="Graceful shutdown shorter than the request timeout",
    rationale="On a rolling update workers get GRACEFUL_TIMEOUT seconds to finish; requests "
    "allowed to run longer are cut off at every deployment.",
    citation="gunicorn documentation, settings: graceful_timeout",
    fix="raise GRACEFUL_TIMEOUT to at least REQUEST_TIMEOUT (and the pod's "
    "terminationGracePeriodSeconds with it)",
    severity=tiers(None, "info", "warning", "warning"),
)
def graceful_timeout(ctx: RuleContext) -> Iterator[RuleHit]:
    """GRACEFUL_TIMEOUT >= REQUEST_TIMEOUT."""
    server = ctx.config.application.server
    if server.graceful_timeout < server.request_timeout:
        yield RuleHit(
            "application.server.graceful_timeout",
            f"GRACEFUL_TIMEOUT {server.graceful_timeout}s is below REQUEST_TIMEOUT {server.request_timeout}s",
        )


@BUSINESS.rule(
    "BIZ-ML-INFERENCE-TIMEOUT",
    title="ML inference may outlive the request",
    rationale="Inference runs inside an API request; a timeout at or above the request "
    "timeout means the client is gone before the model answers.",
    citation="tierconf policy (request budget)",
    fix="lower ML_INFERENCE_TIMEOUT_MS below REQUEST_TIMEOUT x 1000",
    severity=ERROR_EVERYWHERE,
)
def inference_timeout(ctx: RuleContext) -> Iterator[RuleHit]:
    """ML_INFERENCE_TIMEOUT_MS < REQUEST_TIMEOUT in milliseconds."""
    inference = ctx.config.ml.inference.timeout_ms
    request_ms = ctx.config.application.server.request_timeout * 1000
    if inference >= request_ms:
        yield RuleHit(
            "ml.inference.timeout_ms",
            f"ML_INFERENCE_TIMEOUT_MS {inference} is not below REQUEST_TIMEOUT ({request_ms} ms)",
        )


@BUSINESS.rule(
    "BIZ-STATEMENT-TIMEOUT",
    title="SQL statements may outlive the request",
    rationale="A statement that runs after its request was abandoned holds a connection and "
    "locks for nothing; 0 disables the server-side limit entirely.",
    citation="PostgreSQL documentation, statement_timeout",
    fix="set DB_STATEMENT_TIMEOUT_MS between 1 and REQUEST_TIMEOUT x 1000",
    severity=WARNING_EVERYWHERE,
)
def statement_timeout(ctx: RuleContext) -> Iterator[RuleHit]:
    """0 < DB_STATEMENT_TIMEOUT_MS <= REQUEST_TIMEOUT in milliseconds."""
    statement = ctx.config.database.postgres.statement_timeout
    request_ms = ctx.config.application.server.request_timeout * 1000
    if statement == 0:
        yield RuleHit("database.postgres.statement_timeout", "DB_STATEMENT_TIMEOUT_MS is 0 (no limit)")
    elif statement > request_ms:
        yield RuleHit(
            "database.postgres.statement_timeout",
            f"DB_STATEMENT_TIMEOUT_MS {statement} is above REQUEST_TIMEOUT ({request_ms} ms)",
        )


@BUSINESS.rule(
    "BIZ-POOL-TIMEOUT",
    title="Pool checkout wait longer than the request",
    rationale="A request that waits DB_POOL_TIMEOUT seconds for a connection has already "
    "timed out; the wait only piles up more stuck requests.",
    citation="SQLAlchemy documentation, QueuePool pool_timeout",
    fix="keep DB_POOL_TIMEOUT at or below REQUEST_TIMEOUT",
    severity=WARNING_EVERYWHERE,
)
def pool_timeout(ctx: RuleContext) -> Iterator[RuleHit]:
    """DB_POOL_TIMEOUT <= REQUEST_TIMEOUT."""
    pool = ctx.config.database.postgres.pool_timeout
    request = ctx.config.application.server.request_timeout
    if pool > request:
        yield RuleHit(
            "database.postgres.pool_timeout",
            f"DB_POOL_TIMEOUT {pool}s is above REQUEST_TIMEOUT {request}s",
        )


@BUSINESS.rule(
    "BIZ-JWT-REFRESH-LIFETIME",
    title="Refresh tokens must outlive access tokens",
    rationale="A refresh token that expires before the access token it renews is useless: "
    "users are logged out at every access-token expiry.",
    citation="RFC 6749 §1.5 (refresh tokens)",
    fix="make JWT_REFRESH_TOKEN_EXPIRE_MINUTES longer than JWT_ACCESS_TOKEN_EXPIRE_MINUTES",
    severity=ERROR_EVERYWHERE,
)
def jwt_refresh_lifetime(ctx: RuleContext) -> Iterator[RuleHit]:
    """Refresh lifetime > access lifetime."""
    jwt = ctx.config.security.jwt
    if jwt.refresh_token_expire_minutes <= jwt.access_token_expire_minutes:
        yield RuleHit(
            "security.jwt.refresh_token_expire_minutes",
            f"refresh tokens live {jwt.refresh_token_expire_minutes} min, access tokens "
            f"{jwt.access_token_expire_minutes} min",
        )


@BUSINESS.rule(
    "BIZ-JWT-ALG-NOT-ALLOWED",
    title="Signing algorithm missing from the verification allowlist",
    rationale="Tokens signed with JWT_ALGORITHM would be rejected by the service's own "
    "verification, which only accepts JWT_ALLOWED_ALGORITHMS.",
    citation="RFC 8725 §3.1 (perform algorithm verification)",
    fix="add JWT_ALGORITHM to JWT_ALLOWED_ALGORITHMS (or sign with an allowed one)",
    severity=ERROR_EVERYWHERE,
)
def jwt_alg_allowed(ctx: RuleContext) -> Iterator[RuleHit]:
    """JWT_ALGORITHM in JWT_ALLOWED_ALGORITHMS."""
    jwt = ctx.config.security.jwt
    # 'none' is SEC-JWT-NONE's: the fix there is to stop using it, not to allow it.
    if jwt.algorithm != "none" and jwt.algorithm not in jwt.allowed_algorithms:
        yield RuleHit(
            "security.jwt.algorithm",
            f"JWT_ALGORITHM {jwt.algorithm} is not in JWT_ALLOWED_ALGORITHMS {shown(jwt.allowed_algorithms)}",
        )


@BUSINESS.rule(
    "BIZ-REPLICA-HOST",
    title="Read replica missing or equal to the primary",
    rationale="With the replica enabled, read-only queries go to DB_READ_HOST: unset, they "
    "fail; pointing at the primary doubles its connections for no read scaling.",
    citation="PostgreSQL documentation, Hot Standby",
    fix="set DB_READ_HOST:DB_READ_PORT to the replica, or DB_READ_REPLICA_ENABLED=false",
    severity=ERROR_EVERYWHERE,
)
def replica_host(ctx: RuleContext) -> Iterator[RuleHit]:
    """An enabled replica has its own host:port."""
    postgres = ctx.config.database.postgres
    replica = postgres.read_replica
    if not replica.enabled:
        return
    if replica.host is None:
        yield RuleHit(
            "database.postgres.read_replica.enabled", "the read replica is enabled but DB_READ_HOST is unset"
        )
    elif (replica.host.lower(), replica.port) == (postgres.host.lower(), postgres.port):
        yield RuleHit(
            "database.postgres.read_replica.host",
            f"DB_READ_HOST:DB_READ_PORT {replica.host}:{replica.port} is the primary itself",
        )


BUSINESS.not_above(
    "BIZ-CACHE-TTL",
    "application.cache.default_ttl",
    "application.cache.max_ttl",
    unit="s",
    title="Default cache TTL above the maximum TTL",
    rationale="Entries stored with the default lifetime would violate the cap every caller relies on.",
    citation="tierconf policy (cache limits)",
    fix="lower CACHE_DEFAULT_TTL to at most CACHE_MAX_TTL",
    severity=ERROR_EVERYWHERE,
)


@BUSINESS.rule(
    "BIZ-SESSION-STORE",
    title="Session store shorter-lived than sessions, or shared with the cache",
    rationale="Sessions whose Redis entry expires before the absolute session timeout log "
    "users out early; a session DB shared with the cache is emptied by cache flushes.",
    citation="redis-py / Redis documentation, EXPIRE and FLUSHDB",
    fix="set REDIS_SESSION_TTL >= SESSION_ABSOLUTE_TIMEOUT_HOURS x 3600 and REDIS_SESSION_DB != REDIS_DB",
    severity=WARNING_EVERYWHERE,
)
def session_store(ctx: RuleContext) -> Iterator[RuleHit]:
    """Session TTL covers the absolute timeout; sessions and cache use different DBs."""
    redis = ctx.config.database.redis
    absolute = ctx.config.security.session.absolute_timeout_hours * 3600
    if redis.session_ttl < absolute:
        yield RuleHit(
            "database.redis.session_ttl",
            f"REDIS_SESSION_TTL {redis.session_ttl}s is below the absolute session timeout ({absolute}s)",
        )
    if redis.session_db == redis.db:
        yield RuleHit(
            "database.redis.session_db",
            f"REDIS_SESSION_DB and REDIS_DB are both {redis.db}",
        )


BUSINESS.not_above(
    "BIZ-UPLOAD-SIZE",
    "application.uploads.max_file_size_mb",
    "application.uploads.max_request_size_mb",
    title="Single-file limit above the request limit",
    rationale="A file the per-file limit accepts could never fit in a request.",
    citation="OWASP ASVS 4.0.3 V12.1.1; ASVS 5.0 V5.2.1 (file size limits)",
    fix="keep UPLOAD_MAX_FILE_SIZE_MB <= UPLOAD_MAX_REQUEST_SIZE_MB",
    severity=ERROR_EVERYWHERE,
)


@BUSINESS.rule(
    "BIZ-UPLOAD-AUDIO",
    title="Uploads the audio pipeline cannot process",
    rationale="Audio accepted at upload but larger than the audio pipeline's limit, or in a "
    "format the pipeline supports but uploads refuse, fails later and confuses users.",
    citation="tierconf policy (upload and audio limits agree)",
    fix="keep UPLOAD_MAX_FILE_SIZE_MB <= AUDIO_MAX_FILE_SIZE_MB and every "
    "AUDIO_SUPPORTED_FORMATS entry in UPLOAD_ALLOWED_EXTENSIONS",
    severity=WARNING_EVERYWHERE,
)
def upload_audio(ctx: RuleContext) -> Iterator[RuleHit]:
    """Upload limits agree with the audio pipeline."""
    uploads = ctx.config.application.uploads
    audio = ctx.config.ml.audio
    if uploads.max_file_size_mb > audio.max_file_size_mb:
        yield RuleHit(
            "application.uploads.max_file_size_mb",
            f"UPLOAD_MAX_FILE_SIZE_MB {uploads.max_file_size_mb} is above "
            f"AUDIO_MAX_FILE_SIZE_MB {audio.max_file_size_mb}",
        )
    allowed = {ext.lower().lstrip(".") for ext in uploads.allowed_extensions}
    missing = [fmt for fmt in audio.supported_formats if fmt not in allowed]
    if missing:
        yield RuleHit(
            "application.uploads.allowed_extensions",
            f"audio formats {shown(tuple(missing))} are supported by the pipeline but not accepted at upload",
        )


BUSINESS.not_above(
    "BIZ-PAGE-SIZE",
    "application.business.default_page_size",
    "application.business.max_page_size",
    title="Default page size above the maximum page size",
    rationale="A list request without a page size would ask for more than any request may.",
    citation="tierconf policy (pagination limits)",
    fix="keep DEFAULT_PAGE_SIZE <= MAX_PAGE_SIZE",
    severity=ERROR_EVERYWHERE,
)


BUSINESS.not_above(
    "BIZ-PLAYLIST-LIMITS",
    "ml.playlist_generation.max_tracks",
    "application.business.max_tracks_per_playlist",
    title="Generated playlists longer than a playlist may be",
    rationale="The generator would produce playlists that the playlist service refuses to store.",
    citation="tierconf policy (quota coherence)",
    fix="keep PLAYLIST_GENERATION_MAX_TRACKS <= MAX_TRACKS_PER_PLAYLIST",
    severity=ERROR_EVERYWHERE,
)


def parse_size(text: str) -> int | None:
    """``100MiB`` -> bytes; None when the text is not ``<n>KiB|MiB|GiB``."""
    match = _SIZE.match(text)
    if match is None:
        return None
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


@BUSINESS.rule(
    "BIZ-LOG-ROTATION",
    title="File logging that never rotates",
    rationale="Python's RotatingFileHandler never rolls over when backupCount is 0, and a "
    "tiny maximum size rotates constantly: the log file fills the disk or churns.",
    citation="Python documentation, logging.handlers.RotatingFileHandler",
    fix="with LOG_OUTPUT=file, set LOG_ROTATION_BACKUP_COUNT >= 1 and LOG_ROTATION_MAX_SIZE >= 1MiB",
    severity=WARNING_EVERYWHERE,
)
def log_rotation(ctx: RuleContext) -> Iterator[RuleHit]:
    """File logging rotates: backup count >= 1, maximum size >= 1 MiB."""
    logging = ctx.config.monitoring.logging
    if logging.output != "file":
        return
    if logging.rotation_backup_count == 0:
        yield RuleHit(
            "monitoring.logging.rotation_backup_count",
            "LOG_ROTATION_BACKUP_COUNT is 0, so the log file is never rotated",
        )
    size = parse_size(logging.rotation_max_size)
    if size is None or size < 1024**2:
        yield RuleHit(
            "monitoring.logging.rotation_max_size",
            f"LOG_ROTATION_MAX_SIZE {shown(logging.rotation_max_size)} is below 1MiB",
        )


_STAGES_FOR_TIER = {
    EnvironmentTier.LOCAL: ("development", "staging", "production"),
    EnvironmentTier.DEVELOPMENT: ("development", "staging", "production"),
    EnvironmentTier.STAGING: ("staging", "production"),
    EnvironmentTier.PRODUCTION: ("production",),
}


@BUSINESS.rule(
    "BIZ-ML-MODEL-STAGE",
    title="Model registry stage does not suit the tier",
    rationale="Production must serve a model promoted to the production stage; staging "
    "tests staging or production models; an archived model is served nowhere.",
    citation="MLflow documentation, Model Registry stages",
    fix="set ML_MODEL_STAGE to a stage promoted for this tier",
    severity=tiers("warning", "warning", "error", "error"),
)
def model_stage(ctx: RuleContext) -> Iterator[RuleHit]:
    """ML_MODEL_STAGE is allowed in the tier."""
    stage = ctx.config.ml.model.stage
    allowed = _STAGES_FOR_TIER[ctx.tier]
    if stage not in allowed:
        yield RuleHit(
            "ml.model.stage",
            f"ML_MODEL_STAGE {stage} is not served in {ctx.tier.value} "
            f"(expected one of: {', '.join(allowed)})",
        )


@BUSINESS.rule(
    "BIZ-PORT-CONFLICT",
    title="API and metrics on the same port",
    rationale="Two listeners of one pod cannot bind the same port; the second fails at start.",
    citation="tierconf policy (pod ports)",
    fix="give PROMETHEUS_PORT a port other than SERVER_PORT",
    severity=ERROR_EVERYWHERE,
)
def port_conflict(ctx: RuleContext) -> Iterator[RuleHit]:
    """SERVER_PORT != PROMETHEUS_PORT (when metrics are exposed)."""
    port = ctx.config.application.server.port
    prometheus = ctx.config.monitoring.prometheus
    if prometheus.enabled and prometheus.port == port:
        yield RuleHit("monitoring.prometheus.port", f"PROMETHEUS_PORT and SERVER_PORT are both {port}")


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute http(s) URL with a host, or None."""
    if url in ("*", "null"):
        return None  # reported by the security policy, not a syntax problem
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    host = parts.hostname
    if not host or not (_HOSTNAME.match(host) or _is_ip(host)):
        return "it has no valid host"
    if port == 0:
        return "port 0 is not a port"
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


@BUSINESS.rule(
    "BIZ-URL-FORMAT",
    title="Malformed URL or origin",
    rationale="URLs are parsed by clients at start-up; a malformed one fails late, in the "
    "pod, instead of at review. A CORS origin is scheme://host[:port] with no path.",
    citation="RFC 3986 §3; RFC 6454 §6.2 (serialised origin)",
    fix="write an absolute http(s) URL; write origins as scheme://host[:port]",
    severity=ERROR_EVERYWHERE,
)
def url_format(ctx: RuleContext) -> Iterator[RuleHit]:
    """URL settings parse; origins carry no path."""
    config = ctx.config
    urls: list[tuple[str, str, bool]] = [
        ("ml.registry.url", config.ml.registry.url, False),
        ("monitoring.grafana.url", config.monitoring.grafana.url, False),
        ("security.oauth.redirect_uri", config.security.oauth.redirect_uri, False),
    ]
    urls += [
        ("security.oauth.allowed_redirect_uris", u, True) for u in config.security.oauth.allowed_redirect_uris
    ]
    for path, url, listed in urls:
        problem = url_problem(url)
        if problem is not None:
            yield RuleHit(
                path,
                f"{label(path)} {shown(url)} is not a valid URL: {problem}",
                item=url if listed else None,
            )
    for origin in config.application.cors.allowed_origins:
        problem = url_problem(origin)
        if problem is None and origin not in ("*", "null"):
            parts = urlsplit(origin)
            if parts.path not in ("", "/") or parts.query or parts.fragment:
                problem = "an origin has no path, query or fragment"
        if problem is not None:
            yield RuleHit(
                "application.cors.allowed_origins",
                f"origin {shown(origin)} is not valid: {problem}",
                item=origin,
            )


@BUSINESS.rule(
    "BIZ-HOST-FORMAT",
    title="Host setting is not a host name",
    rationale="Host settings take a bare DNS name or IP address; a scheme, port or path in "
    "them produces a name that never resolves.",
    citation="RFC 1123 §2.1 (host names)",
    fix="write only the host (the port has its own setting)",
    severity=ERROR_EVERYWHERE,
)
def host_format(ctx: RuleContext) -> Iterator[RuleHit]:
    """Host settings are DNS names or IP addresses."""
    from tierconf.render._values import get_path

    for path in HOST_SETTINGS:
        host = get_path(ctx.config, path)
        if host is None:
            continue
        if not (_HOSTNAME.match(host) or _is_ip(host)):
            yield RuleHit(path, f"{label(path)} {shown(host)} is not a host name or IP address")


@BUSINESS.rule(
    "BIZ-TIER-ENDPOINTS",
    title="Endpoint of another tier or of a developer machine",
    rationale="Staging and production must talk to their own data plane: a loopback address "
    "means the service is not there, and a host named after another tier reads or writes "
    "that tier's data.",
    citation="tierconf policy (tier isolation)",
    fix="point the setting at this tier's service",
    severity=tiers(None, None, "error", "error"),
)
def tier_endpoints(ctx: RuleContext) -> Iterator[RuleHit]:
    """No loopback or other-tier endpoints in staging and production."""
    from tierconf.render._values import get_path

    words = _OTHER_TIER_WORDS.get(ctx.tier, frozenset())
    replica_enabled = ctx.config.database.postgres.read_replica.enabled
    for path in TIER_ENDPOINTS:
        if path == "database.postgres.read_replica.host" and not replica_enabled:
            continue
        value = get_path(ctx.config, path)
        if not value:
            continue
        host = _host_of(value)
        if is_loopback(host):
            yield RuleHit(path, f"{label(path)} {shown(value)} is a loopback address in {ctx.tier.value}")
            continue
        found = sorted(set(re.split(r"[.-]", host)) & words)
        if found:
            yield RuleHit(
                path,
                f"{label(path)} {shown(value)} names another tier ({', '.join(found)}) in {ctx.tier.value}",
                soft=True,
            )
