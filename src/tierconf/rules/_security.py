"""Tier-aware security policy: weakened settings, each with its standard.

Local and development may relax what staging and production must not; the severity per
tier says how much. Citations name the requirement a reviewer can look up: OWASP ASVS
4.0.3 and 5.0, NIST SP 800-63B (rev. 3 and 800-63B-4), the JOSE and OAuth RFCs, MDN.
Transport-boundary rules (CORS, HSTS, TLS) are in ``_transport``.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from tierconf.rules._business import is_loopback
from tierconf.rules._engine import RuleContext, RuleHit, RuleSet, shown, tiers

SECURITY = RuleSet("security")

ERROR_EVERYWHERE = tiers("error", "error", "error", "error")
STRICT_OUTSIDE_LOCAL = tiers("warning", "error", "error", "error")
PRODUCTION_LIKE = tiers(None, None, "error", "error")
RELAXED_IN_DEV = tiers("warning", "warning", "error", "error")

#: Account names every database and search engine ships with (ASVS 5.0 V6.3.2).
DEFAULT_USERS = frozenset(
    {"postgres", "root", "admin", "administrator", "sa", "elastic", "mongo", "mongodb", "superuser"}
)
#: Passwords that vendors ship or that tutorials copy.
DEFAULT_PASSWORDS = frozenset(
    {
        "admin",
        "password",
        "postgres",
        "root",
        "changeme",
        "changeit",
        "secret",
        "elastic",
        "123456",
        "12345678",
        "mongo",
        "redis",
        "guest",
        "default",
        "letmein",
        "test",
    }
)
_HASH_BITS = {"256": 256, "384": 384, "512": 512}


@SECURITY.rule(
    "SEC-DEBUG-ENABLED",
    title="Debug mode outside development",
    rationale="Debug mode returns tracebacks, settings and sometimes an interactive console "
    "to anyone who triggers an error.",
    citation="OWASP ASVS 4.0.3 V14.3.2; ASVS 5.0 V13.4.2",
    fix="set DEBUG=false",
    severity=PRODUCTION_LIKE,
)
def debug_enabled(ctx: RuleContext) -> Iterator[RuleHit]:
    """DEBUG is off in staging and production."""
    if ctx.config.application.debug:
        yield RuleHit("application.debug", f"DEBUG is true in {ctx.tier.value}")


@SECURITY.rule(
    "SEC-LOG-LEVEL-DEBUG",
    title="DEBUG log level outside development",
    rationale="DEBUG records carry request bodies, headers and query parameters, i.e. "
    "tokens and personal data, into log storage with wide access.",
    citation="OWASP ASVS 4.0.3 V7.1.1; ASVS 5.0 V13.4.2",
    fix="set LOG_LEVEL=INFO (or WARNING)",
    severity=tiers(None, None, "warning", "error"),
)
def log_level_debug(ctx: RuleContext) -> Iterator[RuleHit]:
    """LOG_LEVEL is not DEBUG in staging and production."""
    if ctx.config.application.log_level == "DEBUG":
        yield RuleHit("application.log_level", f"LOG_LEVEL is DEBUG in {ctx.tier.value}")


@SECURITY.rule(
    "SEC-JWT-NONE",
    title="JWT 'none' algorithm",
    rationale="'none' means unsigned: anyone can mint a token with any claims.",
    citation="RFC 7518 §3.6; RFC 8725 §2.1 and §3.2; OWASP ASVS 4.0.3 V3.5.3; ASVS 5.0 V9.1.2",
    fix="sign with HS512 (or RS256/ES256) and remove 'none' from JWT_ALLOWED_ALGORITHMS",
    severity=ERROR_EVERYWHERE,
)
def jwt_none(ctx: RuleContext) -> Iterator[RuleHit]:
    """Neither JWT_ALGORITHM nor JWT_ALLOWED_ALGORITHMS is 'none'."""
    jwt = ctx.config.security.jwt
    if jwt.algorithm == "none":
        yield RuleHit("security.jwt.algorithm", "JWT_ALGORITHM is 'none' (unsigned tokens)")
    if "none" in jwt.allowed_algorithms:
        yield RuleHit(
            "security.jwt.allowed_algorithms",
            "JWT_ALLOWED_ALGORITHMS accepts 'none' (unsigned tokens)",
            item="none",
        )


@SECURITY.rule(
    "SEC-JWT-ALG-MIX",
    title="Symmetric and asymmetric JWT algorithms accepted together",
    rationale="Accepting HS* next to RS*/ES* enables key confusion: a token HMAC-signed with "
    "the public key verifies as if the private key had signed it.",
    citation="RFC 8725 §2.1 and §3.1; OWASP ASVS 5.0 V9.1.2",
    fix="allow only one family in JWT_ALLOWED_ALGORITHMS (HS* or RS*/ES*)",
    severity=STRICT_OUTSIDE_LOCAL,
)
def jwt_alg_mix(ctx: RuleContext) -> Iterator[RuleHit]:
    """JWT_ALLOWED_ALGORITHMS holds one family only."""
    allowed = [a for a in ctx.config.security.jwt.allowed_algorithms if a != "none"]
    symmetric = [a for a in allowed if a.startswith("HS")]
    asymmetric = [a for a in allowed if not a.startswith("HS")]
    if symmetric and asymmetric:
        yield RuleHit(
            "security.jwt.allowed_algorithms",
            f"JWT_ALLOWED_ALGORITHMS mixes {shown(tuple(symmetric))} with {shown(tuple(asymmetric))}",
        )


@SECURITY.rule(
    "SEC-JWT-HMAC-KEY-SHORT",
    title="HMAC signing key shorter than the hash",
    rationale="An HS256/384/512 key shorter than the hash output weakens every token and can "
    "be brute-forced offline from a single token.",
    citation="RFC 7518 §3.2; RFC 8725 §3.5",
    fix="use a random key of at least the hash size (64 bytes for HS512), e.g. "
    "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`",
    severity=tiers("warning", "error", "error", "error"),
)
def jwt_hmac_key(ctx: RuleContext) -> Iterator[RuleHit]:
    """For HS*, JWT_SECRET_KEY has at least as many bits as the hash (when it is known)."""
    algorithm = ctx.config.security.jwt.algorithm
    if not algorithm.startswith("HS"):
        return
    key = ctx.secret("JWT_SECRET_KEY")
    if key is None:
        return
    needed = _HASH_BITS[algorithm[2:]]
    bits = len(key.encode("utf-8")) * 8
    if bits < needed:
        yield RuleHit(
            "security.jwt.secret_key",
            f"JWT_SECRET_KEY has {bits} bits; {algorithm} needs at least {needed}",
        )


@SECURITY.rule(
    "SEC-JWT-ACCESS-LIFETIME",
    title="Long-lived access tokens",
    rationale="A stolen bearer token works until it expires; access tokens are meant to be "
    "short-lived and renewed with a refresh token.",
    citation="OWASP ASVS 4.0.3 V3.3.2; OWASP JSON Web Token Cheat Sheet (token lifetime)",
    fix="keep JWT_ACCESS_TOKEN_EXPIRE_MINUTES at 60 or less (15 is usual)",
    severity=tiers(None, None, "warning", "error"),
)
def jwt_access_lifetime(ctx: RuleContext) -> Iterator[RuleHit]:
    """JWT_ACCESS_TOKEN_EXPIRE_MINUTES <= 60 in staging and production."""
    minutes = ctx.config.security.jwt.access_token_expire_minutes
    if minutes > 60:
        yield RuleHit(
            "security.jwt.access_token_expire_minutes",
            f"access tokens live {minutes} minutes (more than 60)",
        )


SECURITY.setting_on(
    "SEC-JWT-VERIFY-EXP",
    "security.jwt.verify_exp",
    title="Token expiry not verified",
    rationale="Without the exp check a token is valid forever, logout and rotation included.",
    citation="RFC 7519 §4.1.4; OWASP ASVS 5.0 V9.2.1",
    fix="set JWT_VERIFY_EXP=true",
    severity=RELAXED_IN_DEV,
)


SECURITY.setting_on(
    "SEC-JWT-VERIFY-AUD",
    "security.jwt.verify_aud",
    title="Token audience not verified",
    rationale="Without the aud check a token issued for another service of the same issuer is accepted here.",
    citation="RFC 7519 §4.1.3; RFC 8725 §3.9; OWASP ASVS 5.0 V9.2.3",
    fix="set JWT_VERIFY_AUD=true",
    severity=RELAXED_IN_DEV,
)


@SECURITY.rule(
    "SEC-JWT-LEEWAY",
    title="Large clock-skew leeway",
    rationale="Leeway extends every token's life; more than a minute hides clock problems "
    "and lengthens the use of stolen tokens.",
    citation="RFC 7519 §4.1.4 (a small leeway, usually no more than a few minutes)",
    fix="set JWT_LEEWAY to 60 seconds or less and synchronise clocks (NTP)",
    severity=tiers(None, None, "warning", "warning"),
)
def jwt_leeway(ctx: RuleContext) -> Iterator[RuleHit]:
    """JWT_LEEWAY <= 60 s."""
    leeway = ctx.config.security.jwt.leeway
    if leeway > 60:
        yield RuleHit("security.jwt.leeway", f"JWT_LEEWAY is {leeway} seconds")


@SECURITY.rule(
    "SEC-SESSION-IDLE-TIMEOUT",
    title="Session idle timeout above 30 minutes",
    rationale="An unattended session is an open door; AAL2 requires re-authentication after "
    "30 minutes of inactivity.",
    citation="NIST SP 800-63B §4.2.3; OWASP ASVS 4.0.3 V3.3.2; ASVS 5.0 V7.3.1",
    fix="set SESSION_IDLE_TIMEOUT_MINUTES to 30 or less",
    severity=tiers(None, None, "warning", "warning"),
)
def session_idle(ctx: RuleContext) -> Iterator[RuleHit]:
    """SESSION_IDLE_TIMEOUT_MINUTES <= 30."""
    minutes = ctx.config.security.session.idle_timeout_minutes
    if minutes > 30:
        yield RuleHit(
            "security.session.idle_timeout_minutes",
            f"sessions survive {minutes} minutes of inactivity",
        )


@SECURITY.rule(
    "SEC-SESSION-ABSOLUTE-TIMEOUT",
    title="Session absolute timeout above 12 hours",
    rationale="AAL2 requires re-authentication at least every 12 hours, however active the session.",
    citation="NIST SP 800-63B §4.2.3; OWASP ASVS 4.0.3 V3.3.2; ASVS 5.0 V7.3.2",
    fix="set SESSION_ABSOLUTE_TIMEOUT_HOURS to 12 or less",
    severity=tiers(None, None, "warning", "warning"),
)
def session_absolute(ctx: RuleContext) -> Iterator[RuleHit]:
    """SESSION_ABSOLUTE_TIMEOUT_HOURS <= 12."""
    hours = ctx.config.security.session.absolute_timeout_hours
    if hours > 12:
        yield RuleHit("security.session.absolute_timeout_hours", f"sessions last up to {hours} hours")


SECURITY.setting_on(
    "SEC-COOKIE-SECURE",
    "security.session.cookie_secure",
    title="Session cookie sent over plain HTTP",
    rationale="Without Secure the session cookie leaks on any http:// request, e.g. a "
    "network attacker's injected redirect.",
    citation="OWASP ASVS 4.0.3 V3.4.1; ASVS 5.0 V3.3.1; MDN Set-Cookie (Secure)",
    fix="set SESSION_COOKIE_SECURE=true",
    severity=tiers(None, "error", "error", "error"),
)


SECURITY.setting_on(
    "SEC-COOKIE-HTTPONLY",
    "security.session.cookie_httponly",
    title="Session cookie readable by JavaScript",
    rationale="Without HttpOnly any XSS steals the session.",
    citation="OWASP ASVS 4.0.3 V3.4.2; ASVS 5.0 V3.3.4; MDN Set-Cookie (HttpOnly)",
    fix="set SESSION_COOKIE_HTTPONLY=true",
    severity=STRICT_OUTSIDE_LOCAL,
)


@SECURITY.rule(
    "SEC-COOKIE-SAMESITE",
    title="Session cookie with SameSite=None",
    rationale="SameSite=None sends the session cookie on every cross-site request (CSRF); "
    "browsers also reject it without Secure.",
    citation="OWASP ASVS 4.0.3 V3.4.3; ASVS 5.0 V3.3.2; MDN Set-Cookie (SameSite)",
    fix="set SESSION_COOKIE_SAMESITE=lax (or strict)",
    severity=RELAXED_IN_DEV,
)
def cookie_samesite(ctx: RuleContext) -> Iterator[RuleHit]:
    """SESSION_COOKIE_SAMESITE is not none."""
    session = ctx.config.security.session
    if session.cookie_samesite == "none":
        extra = "" if session.cookie_secure else " and without Secure, which browsers reject"
        yield RuleHit("security.session.cookie_samesite", f"SESSION_COOKIE_SAMESITE is none{extra}")


@SECURITY.rule(
    "SEC-CSRF-COOKIE-AUTH",
    title="CSRF protection off with cookie authentication",
    rationale="Browsers attach cookies to cross-site requests: with cookie auth and no CSRF "
    "token any site can act as the user.",
    citation="OWASP ASVS 4.0.3 V4.2.2; ASVS 5.0 V3.5.1",
    fix="set CSRF_PROTECTION=true (or AUTH_MODE=bearer)",
    severity=STRICT_OUTSIDE_LOCAL,
)
def csrf_cookie_auth(ctx: RuleContext) -> Iterator[RuleHit]:
    """CSRF_PROTECTION when AUTH_MODE is cookie."""
    security = ctx.config.security
    if security.session.auth_mode == "cookie" and not security.csrf.enabled:
        yield RuleHit("security.csrf.enabled", "CSRF_PROTECTION is false while AUTH_MODE is cookie")


@SECURITY.rule(
    "SEC-OAUTH-REDIRECT-HTTPS",
    title="OAuth redirect URI not https",
    rationale="Authorization codes sent to an http:// redirect can be intercepted; only "
    "loopback redirects (native apps) are exempt.",
    citation="RFC 6749 §3.1.2.1; RFC 8252 §7.3 and §8.3; OWASP ASVS 5.0 V10.4.1",
    fix="use https:// redirect URIs",
    severity=tiers(None, "error", "error", "error"),
)
def oauth_redirect_https(ctx: RuleContext) -> Iterator[RuleHit]:
    """OAuth redirect URIs are https (loopback excepted)."""
    oauth = ctx.config.security.oauth
    entries = [("security.oauth.redirect_uri", oauth.redirect_uri, False)]
    entries += [("security.oauth.allowed_redirect_uris", u, True) for u in oauth.allowed_redirect_uris]
    for path, url, listed in entries:
        parts = urlsplit(url)
        if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
            yield RuleHit(path, f"redirect URI {shown(url)} is not https", item=url if listed else None)


@SECURITY.rule(
    "SEC-OAUTH-REDIRECT-WILDCARD",
    title="Wildcard OAuth redirect URI",
    rationale="Redirect URIs must match exactly; a wildcard lets an attacker pick where the "
    "authorization code goes.",
    citation="OWASP ASVS 5.0 V10.4.1; RFC 9700 (OAuth 2.0 Security BCP, exact redirect matching)",
    fix="list every redirect URI exactly",
    severity=ERROR_EVERYWHERE,
)
def oauth_redirect_wildcard(ctx: RuleContext) -> Iterator[RuleHit]:
    """No '*' in OAuth redirect URIs."""
    oauth = ctx.config.security.oauth
    if "*" in oauth.redirect_uri:
        yield RuleHit(
            "security.oauth.redirect_uri", f"redirect URI {shown(oauth.redirect_uri)} has a wildcard"
        )
    for uri in oauth.allowed_redirect_uris:
        if "*" in uri:
            yield RuleHit(
                "security.oauth.allowed_redirect_uris",
                f"redirect URI {shown(uri)} has a wildcard",
                item=uri,
            )


@SECURITY.rule(
    "SEC-OAUTH-IMPLICIT-GRANT",
    title="OAuth implicit grant enabled",
    rationale="The implicit grant returns access tokens in the URL fragment, where history, "
    "referrers and scripts can read them.",
    citation="OWASP ASVS 5.0 V10.4.4; RFC 9700 (implicit grant SHOULD NOT be used)",
    fix="remove implicit from OAUTH_GRANT_TYPES; use authorization_code with PKCE",
    severity=STRICT_OUTSIDE_LOCAL,
)
def oauth_implicit(ctx: RuleContext) -> Iterator[RuleHit]:
    """No implicit grant."""
    if "implicit" in ctx.config.security.oauth.grant_types:
        yield RuleHit("security.oauth.grant_types", "OAUTH_GRANT_TYPES contains implicit", item="implicit")


@SECURITY.rule(
    "SEC-OAUTH-PASSWORD-GRANT",
    title="OAuth password grant enabled",
    rationale="The resource owner password grant hands the user's password to the client "
    "and cannot support MFA.",
    citation="OWASP ASVS 5.0 V10.4.4; RFC 9700 (password grant MUST NOT be used)",
    fix="remove password from OAUTH_GRANT_TYPES",
    severity=STRICT_OUTSIDE_LOCAL,
)
def oauth_password(ctx: RuleContext) -> Iterator[RuleHit]:
    """No password grant."""
    if "password" in ctx.config.security.oauth.grant_types:
        yield RuleHit("security.oauth.grant_types", "OAUTH_GRANT_TYPES contains password", item="password")


@SECURITY.rule(
    "SEC-OAUTH-PKCE",
    title="PKCE not required",
    rationale="Without PKCE an intercepted authorization code can be redeemed by the attacker.",
    citation="RFC 7636; OWASP ASVS 5.0 V10.4.6",
    fix="set OAUTH_PKCE_REQUIRED=true",
    severity=STRICT_OUTSIDE_LOCAL,
)
def oauth_pkce(ctx: RuleContext) -> Iterator[RuleHit]:
    """OAUTH_PKCE_REQUIRED when the code grant is on."""
    oauth = ctx.config.security.oauth
    if "authorization_code" in oauth.grant_types and not oauth.pkce_required:
        yield RuleHit("security.oauth.pkce_required", "OAUTH_PKCE_REQUIRED is false")


@SECURITY.rule(
    "SEC-PASSWORD-MIN-LENGTH",
    title="Password minimum length too short",
    rationale="Length is what makes a password hard to guess: at least 8 characters, and 15 "
    "when the password is the only factor.",
    citation="NIST SP 800-63B-4 §3.1.1.2; NIST SP 800-63B §5.1.1.2; OWASP ASVS 5.0 V6.2.1",
    fix="set PASSWORD_MIN_LENGTH to 15 (or at least 8 with TWO_FACTOR_ENABLED=true)",
    severity=STRICT_OUTSIDE_LOCAL,
)
def password_min_length(ctx: RuleContext) -> Iterator[RuleHit]:
    """PASSWORD_MIN_LENGTH >= 8, and >= 15 without a second factor."""
    security = ctx.config.security
    minimum = security.password.min_length
    if minimum < 8:
        yield RuleHit("security.password.min_length", f"PASSWORD_MIN_LENGTH is {minimum} (below 8)")
    elif minimum < 15 and not security.account.two_factor_enabled:
        yield RuleHit(
            "security.password.min_length",
            f"PASSWORD_MIN_LENGTH is {minimum} while passwords are the only factor "
            "(TWO_FACTOR_ENABLED=false): 15 is the minimum",
            soft=True,
        )


@SECURITY.rule(
    "SEC-PASSWORD-COMPOSITION",
    title="Password composition rules",
    rationale="Required uppercase/digit/special characters make users pick predictable "
    "patterns (Password1!) without adding strength; NIST forbids them.",
    citation="NIST SP 800-63B §5.1.1.2 (SHALL NOT impose composition rules); "
    "OWASP ASVS 4.0.3 V2.1.9; ASVS 5.0 V6.2.5",
    fix="set PASSWORD_REQUIRE_UPPERCASE, _DIGIT and _SPECIAL to false; rely on length and "
    "PASSWORD_CHECK_BREACHED",
    severity=tiers("info", "info", "warning", "warning"),
)
def password_composition(ctx: RuleContext) -> Iterator[RuleHit]:
    """No composition rules."""
    policy = ctx.config.security.password
    for name, on in (
        ("require_uppercase", policy.require_uppercase),
        ("require_digit", policy.require_digit),
        ("require_special", policy.require_special),
    ):
        if on:
            yield RuleHit(f"security.password.{name}", f"PASSWORD_{name.upper()} is true")


@SECURITY.rule(
    "SEC-PASSWORD-MAX-LENGTH",
    title="Password maximum length below 64",
    rationale="Passphrases and password managers produce long passwords; capping them "
    "below 64 characters forces weaker ones.",
    citation="NIST SP 800-63B §5.1.1.2 (SHOULD permit at least 64); OWASP ASVS 4.0.3 V2.1.2; ASVS 5.0 V6.2.9",
    fix="set PASSWORD_MAX_LENGTH to 64 or more",
    severity=tiers(None, "info", "warning", "warning"),
)
def password_max_length(ctx: RuleContext) -> Iterator[RuleHit]:
    """PASSWORD_MAX_LENGTH >= 64."""
    maximum = ctx.config.security.password.max_length
    if maximum < 64:
        yield RuleHit("security.password.max_length", f"PASSWORD_MAX_LENGTH is {maximum}")


SECURITY.setting_on(
    "SEC-PASSWORD-BREACHED",
    "security.password.check_breached",
    title="Breached-password check disabled",
    rationale="Passwords from breach corpora are the first ones attackers try.",
    citation="NIST SP 800-63B §5.1.1.2; OWASP ASVS 4.0.3 V2.1.7; ASVS 5.0 V6.2.12",
    fix="set PASSWORD_CHECK_BREACHED=true",
    severity=tiers(None, "warning", "error", "error"),
)


@SECURITY.rule(
    "SEC-LOGIN-THROTTLE",
    title="No throttling of failed logins",
    rationale="The lockout threshold alone (at most 100 failures) does not slow down "
    "credential stuffing spread over many accounts; throttling does.",
    citation="NIST SP 800-63B §5.2.2 (no more than 100 consecutive failures, rate "
    "limiting); OWASP ASVS 4.0.3 V2.2.1; ASVS 5.0 V6.3.1",
    fix="set LOGIN_THROTTLE_ENABLED=true",
    severity=RELAXED_IN_DEV,
)
def login_throttle(ctx: RuleContext) -> Iterator[RuleHit]:
    """LOGIN_THROTTLE_ENABLED."""
    account = ctx.config.security.account
    if not account.login_throttle_enabled:
        yield RuleHit(
            "security.account.login_throttle_enabled",
            f"LOGIN_THROTTLE_ENABLED is false (lockout only after {account.max_login_attempts} failures)",
        )


@SECURITY.rule(
    "SEC-RATE-LIMIT-MEMORY",
    title="In-memory rate limiting with several processes",
    rationale="Memory counters are per process: with N workers x M pods every client gets "
    "N x M times the configured limit.",
    citation="OWASP ASVS 4.0.3 V11.1.4; ASVS 5.0 V2.4.1",
    fix="set RATE_LIMIT_STORAGE=redis (shared counters)",
    severity=ERROR_EVERYWHERE,
)
def rate_limit_memory(ctx: RuleContext) -> Iterator[RuleHit]:
    """RATE_LIMIT_STORAGE=memory only with one process in one pod."""
    config = ctx.config
    processes = config.application.server.max_workers * config.application.scaling.max_replicas
    if (
        config.security.rate_limit.enabled
        and config.security.rate_limit.storage == "memory"
        and processes > 1
    ):
        yield RuleHit(
            "security.rate_limit.storage",
            f"RATE_LIMIT_STORAGE is memory with {config.application.server.max_workers} workers x "
            f"{config.application.scaling.max_replicas} replicas = {processes} separate counters",
        )


SECURITY.setting_on(
    "SEC-RATE-LIMIT-DISABLED",
    "security.rate_limit.enabled",
    title="Rate limiting disabled",
    rationale="Without rate limits one client can exhaust the API, the ML back ends and the tenants' quotas.",
    citation="OWASP ASVS 4.0.3 V11.1.4; ASVS 5.0 V2.4.1",
    fix="set RATE_LIMIT_ENABLED=true",
    severity=tiers(None, "warning", "error", "error"),
)


@SECURITY.rule(
    "SEC-DEFAULT-CREDENTIALS",
    title="Default account or password for a data store",
    rationale="Vendor accounts (postgres, root, sa, elastic) are superusers and the first "
    "names attackers try; the application must use its own least-privilege account.",
    citation="OWASP ASVS 4.0.3 V2.10.2; ASVS 5.0 V13.2.3 and V6.3.2",
    fix="connect with a dedicated least-privilege user and a generated password",
    severity=RELAXED_IN_DEV,
)
def default_credentials(ctx: RuleContext) -> Iterator[RuleHit]:
    """Data-store users are not vendor defaults; visible passwords are not defaults."""
    db = ctx.config.database
    for path, user, password_key in (
        ("database.postgres.user", db.postgres.user, "DB_PASSWORD"),
        ("database.mongodb.user", db.mongodb.user, "MONGO_PASSWORD"),
        ("database.elasticsearch.user", db.elasticsearch.user, "ELASTICSEARCH_PASSWORD"),
    ):
        if user.lower() in DEFAULT_USERS:
            yield RuleHit(path, f"{shown(user)} is a vendor default (superuser) account")
        password = ctx.secret(password_key)
        if password is not None and password.lower() in DEFAULT_PASSWORDS | {user.lower()}:
            yield RuleHit(
                path.rsplit(".", 1)[0] + ".password",
                f"{password_key} is a well-known default password",
            )


@SECURITY.rule(
    "SEC-GRAFANA-ADMIN-DEFAULT",
    title="Grafana default admin",
    rationale="Grafana ships with admin/admin; the name alone halves the guessing, the "
    "password gives full control of dashboards and data sources.",
    citation="Grafana documentation, configuration [security] admin_user / admin_password; "
    "OWASP ASVS 5.0 V6.3.2",
    fix="set GRAFANA_ADMIN_USER to a non-default name and GRAFANA_ADMIN_PASSWORD to a generated secret",
    severity=tiers(None, "warning", "error", "error"),
)
def grafana_admin(ctx: RuleContext) -> Iterator[RuleHit]:
    """Grafana admin is neither named admin nor using admin as password."""
    grafana = ctx.config.monitoring.grafana
    if not grafana.enabled:
        return
    password = ctx.secret("GRAFANA_ADMIN_PASSWORD")
    if password is not None and password.lower() in DEFAULT_PASSWORDS | {grafana.admin_user.lower()}:
        yield RuleHit("monitoring.grafana.admin_password", "GRAFANA_ADMIN_PASSWORD is a default password")
    if grafana.admin_user == "admin":
        yield RuleHit(
            "monitoring.grafana.admin_user", "GRAFANA_ADMIN_USER is Grafana's default 'admin'", soft=True
        )


@SECURITY.rule(
    "SEC-ADMIN-MFA",
    title="Administrators without a second factor",
    rationale="Administrator accounts are the most valuable to phish; a password alone is "
    "not enough for them.",
    citation="OWASP ASVS 4.0.3 V4.3.1; ASVS 5.0 V6.3.3",
    fix="set TWO_FACTOR_ENABLED=true and TWO_FACTOR_REQUIRED_FOR_ADMINS=true",
    severity=tiers(None, "warning", "error", "error"),
)
def admin_mfa(ctx: RuleContext) -> Iterator[RuleHit]:
    """Administrators must use a second factor."""
    account = ctx.config.security.account
    if not account.two_factor_required_for_admins:
        yield RuleHit(
            "security.account.two_factor_required_for_admins",
            "TWO_FACTOR_REQUIRED_FOR_ADMINS is false",
        )
    elif not account.two_factor_enabled:
        yield RuleHit(
            "security.account.two_factor_enabled",
            "TWO_FACTOR_ENABLED is false, so administrators cannot enrol the required factor",
        )


@SECURITY.rule(
    "SEC-AUDIT-DISABLED",
    title="Security audit log disabled",
    rationale="Without an audit trail of logins, role changes and key creation, incidents "
    "cannot be investigated.",
    citation="OWASP ASVS 4.0.3 V7.2.1; ASVS 5.0 V16.3.1",
    fix="set AUDIT_LOG_ENABLED=true and AUDIT_LOG_SENSITIVE_OPERATIONS=true",
    severity=tiers(None, None, "warning", "error"),
)
def audit_disabled(ctx: RuleContext) -> Iterator[RuleHit]:
    """Audit logging on, including sensitive operations."""
    audit = ctx.config.security.audit
    if not audit.enabled:
        yield RuleHit("security.audit.enabled", "AUDIT_LOG_ENABLED is false")
    elif not audit.log_sensitive_operations:
        yield RuleHit(
            "security.audit.log_sensitive_operations",
            "AUDIT_LOG_SENSITIVE_OPERATIONS is false",
            soft=True,
        )
