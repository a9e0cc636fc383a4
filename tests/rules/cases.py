"""One triggering case per rule (several for rules with soft hits): the layer file that
makes the rule fire, the setting it must blame and the line it must point at.

Each case is applied as a ``--values`` file written into a copy of the bundled tree, so
the same overlay reaches every tier and the severity per tier can be checked against the
registry. ``tree_files`` appends text to files of the tree copy (for cross-tier rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from support import SECRET_KEYS
from tierconf.findings import Severity

STRONG = "Kq7xV2mN9pR4tW8yB3cF6hJ1sD5gL0zX-strong-test-secret-0123456789abcdef"
ALL_TIERS = ("local", "development", "staging", "production")

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
    "\\n-----END RSA PRIVATE KEY-----"
)
GITHUB_TOKEN = "ghp_R8dK2mQ7xZ4vN1bT6yH9wC3sF5gJ0pL2aE7u"
URL_PASSWORD = "Gr4fanaV13wer-pass"
KEYWORD_SECRET = "plainpass2024"
ENTROPY_SECRET = "Zx8Qw3Er7Ty1Ui5Op9As2Df6Gh0Jk4Lm"


@dataclass(frozen=True)
class Case:
    """How to make one rule fire, and what the finding must say."""

    code: str
    layer: str
    path: str
    line_of: str | None
    secrets: Mapping[str, str] = field(default_factory=dict)
    planted: str | None = None
    soft: bool = False
    expect: Mapping[str, Severity | None] | None = None
    tree_files: Mapping[str, str] = field(default_factory=dict)
    name: str = ""

    @property
    def id(self) -> str:
        """pytest id."""
        return self.code + (f"-{self.name}" if self.name else "")

    def line(self) -> int | None:
        """The 1-based line where ``line_of`` ends in the layer file (None: no file blamed)."""
        if self.line_of is None:
            return None
        end = self.layer.index(self.line_of) + len(self.line_of.rstrip("\n"))
        return self.layer[:end].count("\n") + 1

    def environ(self) -> dict[str, str]:
        """Every secret KEY set (strong test values), overridden by the case's own."""
        values = {f"TIERCONF_SECRET_{key}": f"{STRONG}-{key.lower()}" for key in SECRET_KEYS}
        values.update({f"TIERCONF_SECRET_{key}": value for key, value in self.secrets.items()})
        return values

    def secret_values(self) -> list[str]:
        """Everything that must never be printed."""
        found = list(self.environ().values())
        if self.planted is not None:
            found.append(self.planted)
        return found


def _server(**values: object) -> str:
    body = "".join(f"    {k}: {v}\n" for k, v in values.items())
    return f"application:\n  server:\n{body}"


CASES: tuple[Case, ...] = (
    # --- business -------------------------------------------------------------------------
    Case(
        "BIZ-REPLICAS-ORDER",
        "application:\n  scaling:\n    min_replicas: 8\n    max_replicas: 4\n",
        "application.scaling.min_replicas",
        "min_replicas: 8",
    ),
    Case(
        "BIZ-AUTOSCALING-FIXED",
        "application:\n  scaling:\n    auto_scaling_enabled: true\n    min_replicas: 3\n"
        "    max_replicas: 3\n",
        "application.scaling.auto_scaling_enabled",
        "auto_scaling_enabled: true",
    ),
    Case(
        "BIZ-WORKER-TIMEOUT",
        _server(worker_timeout=20, request_timeout=60),
        "application.server.worker_timeout",
        "worker_timeout: 20",
    ),
    Case(
        "BIZ-SEARCH-TIMEOUT",
        _server(request_timeout=30) + "  business:\n    search_timeout_seconds: 40\n",
        "application.business.search_timeout_seconds",
        "search_timeout_seconds: 40",
    ),
    Case(
        "BIZ-SEARCH-TIMEOUT",
        _server(request_timeout=30)
        + "  business:\n    search_timeout_seconds: 20\n"
        + "database:\n  elasticsearch:\n    request_timeout: 10\n",
        "database.elasticsearch.request_timeout",
        "request_timeout: 10",
        soft=True,
        name="client",
    ),
    Case(
        "BIZ-GRACEFUL-TIMEOUT",
        _server(request_timeout=60, worker_timeout=60, graceful_timeout=20),
        "application.server.graceful_timeout",
        "graceful_timeout: 20",
    ),
    Case(
        "BIZ-ML-INFERENCE-TIMEOUT",
        _server(request_timeout=30) + "ml:\n  inference:\n    timeout_ms: 30000\n",
        "ml.inference.timeout_ms",
        "timeout_ms: 30000",
    ),
    Case(
        "BIZ-STATEMENT-TIMEOUT",
        "database:\n  postgres:\n    statement_timeout: 0\n",
        "database.postgres.statement_timeout",
        "statement_timeout: 0",
    ),
    Case(
        "BIZ-POOL-TIMEOUT",
        _server(request_timeout=30) + "database:\n  postgres:\n    pool_timeout: 60\n",
        "database.postgres.pool_timeout",
        "pool_timeout: 60",
    ),
    Case(
        "BIZ-JWT-REFRESH-LIFETIME",
        "security:\n  jwt:\n    access_token_expire_minutes: 60\n    refresh_token_expire_minutes: 30\n",
        "security.jwt.refresh_token_expire_minutes",
        "refresh_token_expire_minutes: 30",
    ),
    Case(
        "BIZ-JWT-ALG-NOT-ALLOWED",
        "security:\n  jwt:\n    algorithm: HS256\n    allowed_algorithms: [HS512]\n",
        "security.jwt.algorithm",
        "algorithm: HS256",
    ),
    Case(
        "BIZ-REPLICA-HOST",
        "database:\n  postgres:\n    host: db.example.internal\n    port: 5432\n"
        "    read_replica:\n      enabled: true\n      host: db.example.internal\n      port: 5432\n",
        "database.postgres.read_replica.host",
        "      host: db.example.internal",
    ),
    Case(
        "BIZ-CACHE-TTL",
        "application:\n  cache:\n    default_ttl: 7200\n    max_ttl: 3600\n",
        "application.cache.default_ttl",
        "default_ttl: 7200",
    ),
    Case(
        "BIZ-SESSION-STORE",
        "security:\n  session:\n    absolute_timeout_hours: 12\ndatabase:\n  redis:\n    session_ttl: 3600\n",
        "database.redis.session_ttl",
        "session_ttl: 3600",
    ),
    Case(
        "BIZ-SESSION-STORE",
        "database:\n  redis:\n    db: 0\n    session_db: 0\n",
        "database.redis.session_db",
        "session_db: 0",
        name="shared-db",
    ),
    Case(
        "BIZ-UPLOAD-SIZE",
        "application:\n  uploads:\n    max_file_size_mb: 300\n    max_request_size_mb: 200\n",
        "application.uploads.max_file_size_mb",
        "max_file_size_mb: 300",
    ),
    Case(
        "BIZ-UPLOAD-AUDIO",
        "application:\n  uploads:\n    allowed_extensions: [jpg, png]\n",
        "application.uploads.allowed_extensions",
        "allowed_extensions: [jpg, png]",
    ),
    Case(
        "BIZ-PAGE-SIZE",
        "application:\n  business:\n    default_page_size: 200\n    max_page_size: 100\n",
        "application.business.default_page_size",
        "default_page_size: 200",
    ),
    Case(
        "BIZ-PLAYLIST-LIMITS",
        "application:\n  business:\n    max_tracks_per_playlist: 500\n"
        "ml:\n  playlist_generation:\n    max_tracks: 800\n",
        "ml.playlist_generation.max_tracks",
        "max_tracks: 800",
    ),
    Case(
        "BIZ-LOG-ROTATION",
        "monitoring:\n  logging:\n    output: file\n    rotation_backup_count: 0\n",
        "monitoring.logging.rotation_backup_count",
        "rotation_backup_count: 0",
    ),
    Case(
        "BIZ-ML-MODEL-STAGE",
        "ml:\n  model:\n    stage: archived\n",
        "ml.model.stage",
        "stage: archived",
    ),
    Case(
        "BIZ-PORT-CONFLICT",
        _server(port=8000) + "monitoring:\n  prometheus:\n    enabled: true\n    port: 8000\n",
        "monitoring.prometheus.port",
        "enabled: true\n    port: 8000",
    ),
    Case(
        "BIZ-URL-FORMAT",
        "ml:\n  registry:\n    url: https://mlflow.internal:99999\n",
        "ml.registry.url",
        "url: https://mlflow.internal:99999",
    ),
    Case(
        "BIZ-HOST-FORMAT",
        "database:\n  redis:\n    host: redis://cache:6379\n",
        "database.redis.host",
        "host: redis://cache:6379",
    ),
    Case(
        "BIZ-TIER-ENDPOINTS",
        "database:\n  mongodb:\n    host: localhost\n",
        "database.mongodb.host",
        "host: localhost",
    ),
    Case(
        "BIZ-TIER-ENDPOINTS",
        "database:\n  mongodb:\n    host: mongodb.data-staging.svc.cluster.local\n",
        "database.mongodb.host",
        "host: mongodb",
        expect={"local": None, "development": None, "staging": None, "production": "warning"},
        name="other-tier",
    ),
    # --- security -------------------------------------------------------------------------
    Case("SEC-DEBUG-ENABLED", "application:\n  debug: true\n", "application.debug", "debug: true"),
    Case(
        "SEC-LOG-LEVEL-DEBUG",
        "application:\n  log_level: DEBUG\n",
        "application.log_level",
        "log_level: DEBUG",
    ),
    Case(
        "SEC-JWT-NONE",
        "security:\n  jwt:\n    algorithm: none\n    allowed_algorithms: [none]\n",
        "security.jwt.algorithm",
        "algorithm: none",
    ),
    Case(
        "SEC-JWT-ALG-MIX",
        "security:\n  jwt:\n    allowed_algorithms: [HS512, RS256]\n",
        "security.jwt.allowed_algorithms",
        "allowed_algorithms",
    ),
    Case(
        "SEC-JWT-HMAC-KEY-SHORT",
        "security:\n  jwt:\n    algorithm: HS512\n",
        "security.jwt.secret_key",
        None,
        secrets={"JWT_SECRET_KEY": "too-short-hmac-key-0042"},
        planted="too-short-hmac-key-0042",
    ),
    Case(
        "SEC-JWT-ACCESS-LIFETIME",
        "security:\n  jwt:\n    access_token_expire_minutes: 120\n",
        "security.jwt.access_token_expire_minutes",
        "access_token_expire_minutes: 120",
    ),
    Case(
        "SEC-JWT-VERIFY-EXP",
        "security:\n  jwt:\n    verify_exp: false\n",
        "security.jwt.verify_exp",
        "verify_exp",
    ),
    Case(
        "SEC-JWT-VERIFY-AUD",
        "security:\n  jwt:\n    verify_aud: false\n",
        "security.jwt.verify_aud",
        "verify_aud",
    ),
    Case("SEC-JWT-LEEWAY", "security:\n  jwt:\n    leeway: 120\n", "security.jwt.leeway", "leeway"),
    Case(
        "SEC-SESSION-IDLE-TIMEOUT",
        "security:\n  session:\n    idle_timeout_minutes: 60\n",
        "security.session.idle_timeout_minutes",
        "idle_timeout_minutes",
    ),
    Case(
        "SEC-SESSION-ABSOLUTE-TIMEOUT",
        "security:\n  session:\n    absolute_timeout_hours: 24\n",
        "security.session.absolute_timeout_hours",
        "absolute_timeout_hours",
    ),
    Case(
        "SEC-COOKIE-SECURE",
        "security:\n  session:\n    cookie_secure: false\n",
        "security.session.cookie_secure",
        "cookie_secure",
    ),
    Case(
        "SEC-COOKIE-HTTPONLY",
        "security:\n  session:\n    cookie_httponly: false\n",
        "security.session.cookie_httponly",
        "cookie_httponly",
    ),
    Case(
        "SEC-COOKIE-SAMESITE",
        "security:\n  session:\n    cookie_samesite: none\n",
        "security.session.cookie_samesite",
        "cookie_samesite",
    ),
    Case(
        "SEC-CSRF-COOKIE-AUTH",
        "security:\n  session:\n    auth_mode: cookie\n  csrf:\n    enabled: false\n",
        "security.csrf.enabled",
        "enabled: false",
    ),
    Case(
        "SEC-CORS-WILDCARD",
        'application:\n  cors:\n    allowed_origins: ["null"]\n',
        "application.cors.allowed_origins",
        "allowed_origins",
    ),
    Case(
        "SEC-CORS-WILDCARD-CREDENTIALS",
        'application:\n  cors:\n    allow_credentials: true\n    allowed_origins: ["*"]\n',
        "application.cors.allowed_origins",
        "allowed_origins",
    ),
    Case(
        "SEC-CORS-INSECURE-ORIGIN",
        "application:\n  cors:\n    allowed_origins: [http://app.example.com]\n",
        "application.cors.allowed_origins",
        "allowed_origins",
    ),
    Case(
        "SEC-LOCALHOST-IN-PRODUCTION",
        "application:\n  cors:\n    allowed_origins: [http://localhost:4200]\n",
        "application.cors.allowed_origins",
        "allowed_origins",
    ),
    Case(
        "SEC-HSTS-DISABLED",
        "security:\n  headers:\n    hsts_enabled: false\n",
        "security.headers.hsts_enabled",
        "hsts_enabled",
    ),
    Case(
        "SEC-HSTS-MAX-AGE",
        "security:\n  headers:\n    hsts_enabled: true\n    hsts_max_age: 600\n",
        "security.headers.hsts_max_age",
        "hsts_max_age",
    ),
    Case(
        "SEC-HSTS-MAX-AGE",
        "security:\n  headers:\n    hsts_enabled: true\n    hsts_max_age: 31536000\n"
        "    hsts_include_subdomains: false\n",
        "security.headers.hsts_include_subdomains",
        "hsts_include_subdomains",
        soft=True,
        name="subdomains",
    ),
    Case(
        "SEC-TLS-MIN-VERSION",
        'security:\n  tls:\n    min_version: "1.1"\n',
        "security.tls.min_version",
        "min_version",
    ),
    Case(
        "SEC-TLS-VERIFY-DISABLED",
        "security:\n  tls:\n    verify_certificates: false\n",
        "security.tls.verify_certificates",
        "verify_certificates",
    ),
    Case(
        "SEC-PG-SSLMODE",
        "database:\n  postgres:\n    sslmode: disable\n",
        "database.postgres.sslmode",
        "sslmode",
    ),
    Case(
        "SEC-PG-SSLMODE",
        "database:\n  postgres:\n    sslmode: require\n",
        "database.postgres.sslmode",
        "sslmode",
        soft=True,
        name="require",
    ),
    Case("SEC-REDIS-TLS", "database:\n  redis:\n    tls: false\n", "database.redis.tls", "tls: false"),
    Case(
        "SEC-REDIS-TLS",
        "database:\n  redis:\n    tls: true\n    tls_verify: false\n",
        "database.redis.tls_verify",
        "tls_verify",
        soft=True,
        name="verify",
    ),
    Case("SEC-MONGO-TLS", "database:\n  mongodb:\n    tls: false\n", "database.mongodb.tls", "tls"),
    Case(
        "SEC-ES-TLS",
        "database:\n  elasticsearch:\n    scheme: http\n",
        "database.elasticsearch.scheme",
        "scheme",
    ),
    Case(
        "SEC-ES-TLS",
        "database:\n  elasticsearch:\n    scheme: https\n    verify_certs: false\n",
        "database.elasticsearch.verify_certs",
        "verify_certs",
        soft=True,
        name="verify",
    ),
    Case(
        "SEC-OAUTH-REDIRECT-HTTPS",
        "security:\n  oauth:\n    redirect_uri: http://api.example.com/auth/callback\n",
        "security.oauth.redirect_uri",
        "redirect_uri",
    ),
    Case(
        "SEC-OAUTH-REDIRECT-WILDCARD",
        'security:\n  oauth:\n    allowed_redirect_uris: ["https://*.example.com/done"]\n',
        "security.oauth.allowed_redirect_uris",
        "allowed_redirect_uris",
    ),
    Case(
        "SEC-OAUTH-IMPLICIT-GRANT",
        "security:\n  oauth:\n    grant_types: [authorization_code, implicit]\n",
        "security.oauth.grant_types",
        "grant_types",
    ),
    Case(
        "SEC-OAUTH-PASSWORD-GRANT",
        "security:\n  oauth:\n    grant_types: [authorization_code, password]\n",
        "security.oauth.grant_types",
        "grant_types",
    ),
    Case(
        "SEC-OAUTH-PKCE",
        "security:\n  oauth:\n    pkce_required: false\n",
        "security.oauth.pkce_required",
        "pkce_required",
    ),
    Case(
        "SEC-PASSWORD-MIN-LENGTH",
        "security:\n  password:\n    min_length: 6\n",
        "security.password.min_length",
        "min_length",
    ),
    Case(
        "SEC-PASSWORD-MIN-LENGTH",
        "security:\n  password:\n    min_length: 10\n  account:\n    two_factor_enabled: false\n",
        "security.password.min_length",
        "min_length",
        soft=True,
        name="single-factor",
    ),
    Case(
        "SEC-PASSWORD-COMPOSITION",
        "security:\n  password:\n    require_digit: true\n",
        "security.password.require_digit",
        "require_digit",
    ),
    Case(
        "SEC-PASSWORD-MAX-LENGTH",
        "security:\n  password:\n    max_length: 32\n",
        "security.password.max_length",
        "max_length",
    ),
    Case(
        "SEC-PASSWORD-BREACHED",
        "security:\n  password:\n    check_breached: false\n",
        "security.password.check_breached",
        "check_breached",
    ),
    Case(
        "SEC-LOGIN-THROTTLE",
        "security:\n  account:\n    login_throttle_enabled: false\n",
        "security.account.login_throttle_enabled",
        "login_throttle_enabled",
    ),
    Case(
        "SEC-RATE-LIMIT-MEMORY",
        _server(max_workers=2) + "security:\n  rate_limit:\n    enabled: true\n    storage: memory\n",
        "security.rate_limit.storage",
        "storage: memory",
    ),
    Case(
        "SEC-RATE-LIMIT-DISABLED",
        "security:\n  rate_limit:\n    enabled: false\n",
        "security.rate_limit.enabled",
        "enabled: false",
    ),
    Case(
        "SEC-DEFAULT-CREDENTIALS",
        "database:\n  postgres:\n    user: postgres\n",
        "database.postgres.user",
        "user: postgres",
    ),
    Case(
        "SEC-DEFAULT-CREDENTIALS",
        "database:\n  mongodb:\n    user: analytics\n",
        "database.mongodb.password",
        None,
        secrets={"MONGO_PASSWORD": "letmein"},
        planted="letmein",
        name="password",
    ),
    Case(
        "SEC-GRAFANA-ADMIN-DEFAULT",
        "monitoring:\n  grafana:\n    enabled: true\n    admin_user: admin\n",
        "monitoring.grafana.admin_user",
        "admin_user: admin",
        soft=True,
    ),
    Case(
        "SEC-GRAFANA-ADMIN-DEFAULT",
        "monitoring:\n  grafana:\n    enabled: true\n",
        "monitoring.grafana.admin_password",
        None,
        secrets={"GRAFANA_ADMIN_PASSWORD": "changeit"},
        planted="changeit",
        name="password",
    ),
    Case(
        "SEC-ADMIN-MFA",
        "security:\n  account:\n    two_factor_required_for_admins: false\n",
        "security.account.two_factor_required_for_admins",
        "two_factor_required_for_admins",
    ),
    Case(
        "SEC-AUDIT-DISABLED",
        "security:\n  audit:\n    enabled: false\n",
        "security.audit.enabled",
        "enabled: false",
    ),
    # --- leaks ----------------------------------------------------------------------------
    Case(
        "LEAK-PRIVATE-KEY",
        f'flags:\n  analytics:\n    description: "{PEM}"\n',
        "flags.analytics.description",
        "description",
        planted="MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    ),
    Case(
        "LEAK-TOKEN-FORMAT",
        f"ml:\n  registry:\n    url: https://mlflow.example.com/?token={GITHUB_TOKEN}\n",
        "ml.registry.url",
        "url:",
        planted=GITHUB_TOKEN,
    ),
    Case(
        "LEAK-URL-CREDENTIALS",
        f"monitoring:\n  grafana:\n    url: https://viewer:{URL_PASSWORD}@grafana.example.com\n",
        "monitoring.grafana.url",
        "url:",
        planted=URL_PASSWORD,
    ),
    Case(
        "LEAK-SECRET-KEYWORD",
        f"ml:\n  registry:\n    url: https://mlflow.example.com/api?api_key={KEYWORD_SECRET}\n",
        "ml.registry.url",
        "url:",
        planted=KEYWORD_SECRET,
    ),
    Case(
        "LEAK-HIGH-ENTROPY",
        f"ml:\n  sentiment:\n    model: {ENTROPY_SECRET}\n",
        "ml.sentiment.model",
        "model:",
        planted=ENTROPY_SECRET,
    ),
    # --- capacity -------------------------------------------------------------------------
    Case(
        "CAP-PG-CONNECTIONS",
        _server(max_workers=2)
        + "  scaling:\n    min_replicas: 1\n    max_replicas: 2\n"
        + "database:\n  postgres:\n    pool_size: 100\n    server_max_connections: 100\n",
        "database.postgres.pool_size",
        "pool_size: 100",
    ),
    Case(
        "CAP-PG-CONNECTIONS",
        _server(max_workers=2)
        + "  scaling:\n    min_replicas: 1\n    max_replicas: 2\n"
        + "database:\n  postgres:\n    pool_size: 20\n    max_overflow: 0\n"
        + "    server_max_connections: 100\n    superuser_reserved_connections: 3\n",
        "database.postgres.pool_size",
        "pool_size: 20",
        soft=True,
        name="headroom",
    ),
    Case(
        "CAP-PG-REPLICA-CONNECTIONS",
        _server(max_workers=2)
        + "  scaling:\n    min_replicas: 1\n    max_replicas: 2\n"
        + "database:\n  postgres:\n    server_max_connections: 100\n    read_replica:\n"
        + "      enabled: true\n      host: replica.example.internal\n      pool_size: 100\n",
        "database.postgres.read_replica.pool_size",
        "pool_size: 100",
    ),
    Case(
        "CAP-REDIS-CONNECTIONS",
        _server(max_workers=2)
        + "  scaling:\n    min_replicas: 1\n    max_replicas: 2\n"
        + "database:\n  redis:\n    max_connections: 5000\n    server_maxclients: 10000\n",
        "database.redis.max_connections",
        "max_connections: 5000",
    ),
    # --- flags ----------------------------------------------------------------------------
    Case(
        "FLAG-ALLOW-DENY-OVERLAP",
        "flags:\n  ai_recommendation:\n    allow_tenants: [acme]\n    deny_tenants: [acme]\n",
        "flags.ai_recommendation.deny_tenants",
        "deny_tenants",
    ),
    Case(
        "FLAG-UNKNOWN-TENANT",
        "flags:\n  analytics:\n    allow_tenants: [acme-records]\n",
        "flags.analytics.allow_tenants",
        "allow_tenants",
    ),
    Case(
        "FLAG-EXPIRED",
        'flags:\n  analytics:\n    expires: "2020-01-31"\n',
        "flags.analytics.expires",
        "expires",
    ),
    Case(
        "FLAG-PROD-NOT-STAGING",
        "flags:\n  analytics:\n    enabled: true\n    rollout_percent: 100\n",
        "flags.analytics.enabled",
        "enabled: true",
        tree_files={"environments/staging.yaml": "  analytics:\n    enabled: false\n"},
    ),
    Case(
        "FLAG-VARIANT-WEIGHTS",
        "flags:\n  analytics:\n    kind: string\n    default_variant: a\n"
        "    variants: [{name: a, value: grid, weight: 30}, {name: b, value: list, weight: 30}]\n",
        "flags.analytics.variants",
        "variants",
    ),
    Case(
        "FLAG-UNDECLARED",
        "flags:\n  analytcs:\n    enabled: true\n",
        "flags.analytcs",
        "analytcs",
    ),
    Case(
        "FLAG-CONSTRAINT-VALUE",
        "flags:\n  analytics:\n    constraints: [{attribute: plan, operator: in, values: [platinum]}]\n",
        "flags.analytics.constraints",
        "constraints",
    ),
    Case(
        "FLAG-PROD-NOT-STAGING",
        "flags:\n  real_time:\n    rollout_percent: 80\n",
        "flags.real_time.rollout_percent",
        "rollout_percent: 80",
        soft=True,
        name="wider",
    ),
)
