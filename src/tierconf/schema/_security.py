"""The ``security`` domain: JWT, OAuth, API keys, sessions, CSRF, headers, TLS, accounts.

Rendered into the ``spotify-ai-agent-security-config`` ConfigMap; signing keys and OAuth
client secrets go to a Secret. Defaults are the strict production values; the tier-aware
security policy (``tierconf.rules``) reports weakened settings per tier. Some literals
include weak choices (``JWT_ALGORITHM: none``, TLS 1.0) on purpose, so that the policy can
name them instead of the schema rejecting them with a generic error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from tierconf.schema._fields import DOMAIN_MODEL_CONFIG, group, setting
from tierconf.schema._secret_ref import SecretRef

JwtAlgorithm = Literal[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "none"
]
OAuthProvider = Literal["google", "spotify", "github"]
OAuthGrantType = Literal["authorization_code", "implicit", "password", "client_credentials", "refresh_token"]
SameSite = Literal["strict", "lax", "none"]
AuthMode = Literal["cookie", "bearer"]
TlsVersion = Literal["1.0", "1.1", "1.2", "1.3"]
RateLimitStorage = Literal["memory", "redis"]

__all__ = [
    "AccountSecurity",
    "ApiKeySettings",
    "AuditSettings",
    "AuthMode",
    "ComplianceSettings",
    "CsrfSettings",
    "JwtAlgorithm",
    "JwtSettings",
    "OAuthGrantType",
    "OAuthProvider",
    "OAuthSettings",
    "PasswordPolicy",
    "RateLimitSettings",
    "RateLimitStorage",
    "SameSite",
    "SecurityConfig",
    "SecurityHeaders",
    "SessionSettings",
    "TlsSettings",
    "TlsVersion",
]


class JwtSettings(BaseModel):
    """Issuing and verifying JSON Web Tokens."""

    model_config = DOMAIN_MODEL_CONFIG

    algorithm: JwtAlgorithm = setting(
        "HS512", key="JWT_ALGORITHM", description="Algorithm used to sign issued tokens."
    )
    secret_key: SecretRef | None = setting(
        None,
        key="JWT_SECRET_KEY",
        description="Signing key: the HMAC secret, or the PEM private key for RS*/ES*.",
        secret=True,
    )
    allowed_algorithms: tuple[JwtAlgorithm, ...] = setting(
        ("HS512",),
        key="JWT_ALLOWED_ALGORITHMS",
        description="Algorithms accepted when verifying a token.",
    )
    access_token_expire_minutes: int = setting(
        15,
        key="JWT_ACCESS_TOKEN_EXPIRE_MINUTES",
        description="Lifetime of an access token.",
        unit="minutes",
        ge=1,
        le=1440,
    )
    refresh_token_expire_minutes: int = setting(
        10080,
        key="JWT_REFRESH_TOKEN_EXPIRE_MINUTES",
        description="Lifetime of a refresh token.",
        unit="minutes",
        ge=1,
        le=129600,
    )
    issuer: str = setting(
        "spotify-ai-agent",
        key="JWT_ISSUER",
        description="iss claim written into and required from tokens.",
        min_length=1,
    )
    audience: str = setting(
        "spotify-ai-agent-api",
        key="JWT_AUDIENCE",
        description="aud claim written into and required from tokens.",
        min_length=1,
    )
    verify_exp: bool = setting(True, key="JWT_VERIFY_EXP", description="Whether expired tokens are rejected.")
    verify_aud: bool = setting(
        True,
        key="JWT_VERIFY_AUD",
        description="Whether tokens for another audience are rejected.",
    )
    leeway: int = setting(
        10,
        key="JWT_LEEWAY",
        description="Clock skew tolerated when checking exp and nbf.",
        unit="seconds",
        ge=0,
        le=300,
    )


class OAuthSettings(BaseModel):
    """Sign-in through external OAuth 2.0 / OpenID Connect providers."""

    model_config = DOMAIN_MODEL_CONFIG

    providers: tuple[OAuthProvider, ...] = setting(
        ("spotify",), key="OAUTH_PROVIDERS", description="OAuth providers offered at sign-in."
    )
    redirect_uri: str = setting(
        "https://api.spotify-ai-agent.com/auth/oauth/callback",
        key="OAUTH_REDIRECT_URI",
        description="Callback URL registered with every provider.",
        pattern=r"^https?://\S+$",
    )
    allowed_redirect_uris: tuple[str, ...] = setting(
        (),
        key="OAUTH_ALLOWED_REDIRECT_URIS",
        description="Front-end URLs the callback may send the user back to after sign-in.",
    )
    grant_types: tuple[OAuthGrantType, ...] = setting(
        ("authorization_code", "refresh_token"),
        key="OAUTH_GRANT_TYPES",
        description="OAuth grant types the authorization server accepts.",
    )
    pkce_required: bool = setting(
        True,
        key="OAUTH_PKCE_REQUIRED",
        description="Whether authorization-code flows must use PKCE.",
    )
    google_client_id: str | None = setting(
        None, key="GOOGLE_CLIENT_ID", description="OAuth client ID registered with Google."
    )
    google_client_secret: SecretRef | None = setting(
        None,
        key="GOOGLE_CLIENT_SECRET",
        description="OAuth client secret issued by Google.",
        secret=True,
    )
    spotify_client_id: str | None = setting(
        None, key="SPOTIFY_CLIENT_ID", description="OAuth client ID registered with Spotify."
    )
    spotify_client_secret: SecretRef | None = setting(
        None,
        key="SPOTIFY_CLIENT_SECRET",
        description="OAuth client secret issued by Spotify.",
        secret=True,
    )
    github_client_id: str | None = setting(
        None, key="GITHUB_CLIENT_ID", description="OAuth client ID registered with GitHub."
    )
    github_client_secret: SecretRef | None = setting(
        None,
        key="GITHUB_CLIENT_SECRET",
        description="OAuth client secret issued by GitHub.",
        secret=True,
    )


class ApiKeySettings(BaseModel):
    """Long-lived API keys for scripts and partner integrations."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(
        True, key="API_KEYS_ENABLED", description="Whether API-key authentication is accepted."
    )
    header_name: str = setting(
        "X-API-Key",
        key="API_KEY_HEADER",
        description="Request header that carries the API key.",
        pattern=r"^[A-Za-z0-9-]+$",
    )
    max_keys_per_user: int = setting(
        10,
        key="API_KEYS_MAX_PER_USER",
        description="Most active API keys one user may hold.",
        unit="keys",
        tenant=True,
        ge=0,
        le=1000,
    )
    rotation_days: int = setting(
        90,
        key="API_KEY_ROTATION_DAYS",
        description="Age after which an API key must be rotated.",
        unit="days",
        ge=1,
        le=3650,
    )


class SessionSettings(BaseModel):
    """Browser sessions of the web application."""

    model_config = DOMAIN_MODEL_CONFIG

    cookie_secure: bool = setting(
        True,
        key="SESSION_COOKIE_SECURE",
        description="Whether the session cookie is sent over HTTPS only.",
    )
    cookie_httponly: bool = setting(
        True,
        key="SESSION_COOKIE_HTTPONLY",
        description="Whether the session cookie is hidden from JavaScript.",
    )
    cookie_samesite: SameSite = setting(
        "lax",
        key="SESSION_COOKIE_SAMESITE",
        description="SameSite attribute of the session cookie.",
    )
    idle_timeout_minutes: int = setting(
        30,
        key="SESSION_IDLE_TIMEOUT_MINUTES",
        description="Inactivity after which a session ends.",
        unit="minutes",
        tenant=True,
        ge=1,
        le=10080,
    )
    absolute_timeout_hours: int = setting(
        12,
        key="SESSION_ABSOLUTE_TIMEOUT_HOURS",
        description="Age after which a session ends even when active.",
        unit="hours",
        ge=1,
        le=720,
    )
    auth_mode: AuthMode = setting(
        "bearer",
        key="AUTH_MODE",
        description="How browsers present credentials: session cookie or bearer token.",
    )


class CsrfSettings(BaseModel):
    """Cross-site request forgery protection (double-submit cookie)."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(
        True,
        key="CSRF_PROTECTION",
        description="Whether state-changing requests must carry a valid CSRF token.",
    )
    cookie_name: str = setting(
        "csrftoken",
        key="CSRF_COOKIE_NAME",
        description="Cookie that carries the CSRF token.",
        pattern=r"^[A-Za-z0-9_-]+$",
    )
    header_name: str = setting(
        "X-CSRF-Token",
        key="CSRF_HEADER_NAME",
        description="Request header that must echo the CSRF token.",
        pattern=r"^[A-Za-z0-9-]+$",
    )


class SecurityHeaders(BaseModel):
    """HTTP security headers added to every response."""

    model_config = DOMAIN_MODEL_CONFIG

    hsts_enabled: bool = setting(
        True,
        key="HSTS_ENABLED",
        description="Whether the Strict-Transport-Security header is sent.",
    )
    hsts_max_age: int = setting(
        31536000,
        key="HSTS_MAX_AGE",
        description="max-age of the Strict-Transport-Security header.",
        unit="seconds",
        ge=0,
        le=63072000,
    )
    hsts_include_subdomains: bool = setting(
        True,
        key="HSTS_INCLUDE_SUBDOMAINS",
        description="Whether HSTS also covers every subdomain.",
    )


class TlsSettings(BaseModel):
    """TLS of outgoing and terminated connections."""

    model_config = DOMAIN_MODEL_CONFIG

    min_version: TlsVersion = setting(
        "1.2", key="TLS_MIN_VERSION", description="Oldest TLS protocol version accepted."
    )
    verify_certificates: bool = setting(
        True,
        key="TLS_VERIFY_CERTIFICATES",
        description="Whether certificates of outgoing HTTPS calls are verified.",
    )


class PasswordPolicy(BaseModel):
    """Rules for user-chosen passwords."""

    model_config = DOMAIN_MODEL_CONFIG

    min_length: int = setting(
        12,
        key="PASSWORD_MIN_LENGTH",
        description="Fewest characters a password may have.",
        unit="characters",
        ge=4,
        le=128,
    )
    max_length: int = setting(
        128,
        key="PASSWORD_MAX_LENGTH",
        description="Most characters a password may have.",
        unit="characters",
        ge=8,
        le=1024,
    )
    require_uppercase: bool = setting(
        True,
        key="PASSWORD_REQUIRE_UPPERCASE",
        description="Whether a password needs an uppercase letter.",
    )
    require_digit: bool = setting(
        True, key="PASSWORD_REQUIRE_DIGIT", description="Whether a password needs a digit."
    )
    require_special: bool = setting(
        True,
        key="PASSWORD_REQUIRE_SPECIAL",
        description="Whether a password needs a character that is neither letter nor digit.",
    )
    check_breached: bool = setting(
        True,
        key="PASSWORD_CHECK_BREACHED",
        description="Whether passwords found in known breaches are refused.",
    )


class AccountSecurity(BaseModel):
    """Login lockout and two-factor authentication."""

    model_config = DOMAIN_MODEL_CONFIG

    max_login_attempts: int = setting(
        5,
        key="MAX_LOGIN_ATTEMPTS",
        description="Failed logins in a row before the account is locked.",
        unit="attempts",
        ge=1,
        le=100,
    )
    lockout_duration_minutes: int = setting(
        15,
        key="LOCKOUT_DURATION_MINUTES",
        description="How long a locked account stays locked.",
        unit="minutes",
        ge=1,
        le=10080,
    )
    login_throttle_enabled: bool = setting(
        True,
        key="LOGIN_THROTTLE_ENABLED",
        description="Whether repeated logins from one client are slowed down.",
    )
    two_factor_enabled: bool = setting(
        True,
        key="TWO_FACTOR_ENABLED",
        description="Whether users may enrol a second authentication factor.",
    )
    two_factor_required_for_admins: bool = setting(
        True,
        key="TWO_FACTOR_REQUIRED_FOR_ADMINS",
        description="Whether administrators must use a second factor.",
    )


class RateLimitSettings(BaseModel):
    """Request rate limiting (fixed window plus burst), per API client."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(True, key="RATE_LIMIT_ENABLED", description="Whether requests are rate limited.")
    requests: int = setting(
        100,
        key="RATE_LIMIT_REQUESTS",
        description="Requests one client may make per window.",
        unit="requests",
        tenant=True,
        ge=1,
        le=1_000_000,
    )
    window: int = setting(
        60,
        key="RATE_LIMIT_WINDOW",
        description="Length of the rate-limit window.",
        unit="seconds",
        tenant=True,
        ge=1,
        le=86400,
    )
    storage: RateLimitStorage = setting(
        "redis",
        key="RATE_LIMIT_STORAGE",
        description="Where counters live; memory counts per process, so only for one replica.",
    )
    burst: int = setting(
        20,
        key="RATE_LIMIT_BURST",
        description="Requests allowed above the limit in a short burst.",
        unit="requests",
        tenant=True,
        ge=0,
        le=1_000_000,
    )


class AuditSettings(BaseModel):
    """Audit trail of security-relevant actions."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(
        True, key="AUDIT_LOG_ENABLED", description="Whether security events are audit-logged."
    )
    log_retention_days: int = setting(
        365,
        key="AUDIT_LOG_RETENTION_DAYS",
        description="How long audit records are kept.",
        unit="days",
        ge=1,
        le=3650,
    )
    log_sensitive_operations: bool = setting(
        True,
        key="AUDIT_LOG_SENSITIVE_OPERATIONS",
        description="Whether role changes, key creation and data exports are audit-logged.",
    )


class ComplianceSettings(BaseModel):
    """Data protection obligations."""

    model_config = DOMAIN_MODEL_CONFIG

    gdpr_enabled: bool = setting(
        True,
        key="GDPR_ENABLED",
        description="Whether GDPR features (consent, export, erasure) are active.",
    )
    data_retention_days: int = setting(
        730,
        key="DATA_RETENTION_DAYS",
        description="How long personal data of inactive accounts is kept.",
        unit="days",
        ge=1,
        le=3650,
    )


class SecurityConfig(BaseModel):
    """The ``security`` domain: authentication, sessions and protection policies."""

    model_config = DOMAIN_MODEL_CONFIG

    jwt: JwtSettings = group(JwtSettings)
    oauth: OAuthSettings = group(OAuthSettings)
    api_keys: ApiKeySettings = group(ApiKeySettings)
    session: SessionSettings = group(SessionSettings)
    csrf: CsrfSettings = group(CsrfSettings)
    headers: SecurityHeaders = group(SecurityHeaders)
    tls: TlsSettings = group(TlsSettings)
    password: PasswordPolicy = group(PasswordPolicy)
    account: AccountSecurity = group(AccountSecurity)
    rate_limit: RateLimitSettings = group(RateLimitSettings)
    audit: AuditSettings = group(AuditSettings)
    compliance: ComplianceSettings = group(ComplianceSettings)
