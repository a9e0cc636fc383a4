"""JWT verification and CSRF from the live ``security.jwt`` / ``security.csrf`` settings.

Every request reads one :class:`~tierconf.runtime.LiveState`, so the algorithm, issuer,
audience and key it verifies with always come from the same version: when the Secret
holding JWT_SECRET_KEY is rotated, tokens signed with the old key fail from the next
request on, and tokens signed with the new key pass.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from tierconf.runtime import LiveState

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ACCESS_COOKIE = "access_token"


class AuthError(Exception):
    """The request is not authenticated (401) or not allowed (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who is calling: from the token's claims."""

    tenant: str
    user: str
    plan: str
    via_cookie: bool


@lru_cache(maxsize=8)
def _public_key(pem: str) -> Any:
    """For RS*/ES* the Secret holds the private key; verification needs its public half."""
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    return private.public_key()


def verification_key(state: LiveState) -> Any:
    """The key to verify tokens with under the state's algorithm."""
    secret = state.secret("JWT_SECRET_KEY")
    if state.config.security.jwt.algorithm.startswith("HS"):
        return secret
    return _public_key(secret)


def verify(token: str, state: LiveState) -> dict[str, Any]:
    """Decode and verify ``token`` with the state's JWT settings and key."""
    settings = state.config.security.jwt
    allowed = [alg for alg in settings.allowed_algorithms if alg != "none"]
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            verification_key(state),
            algorithms=allowed,
            issuer=settings.issuer,
            audience=settings.audience if settings.verify_aud else None,
            leeway=settings.leeway,
            options={
                "verify_exp": settings.verify_exp,
                "verify_aud": settings.verify_aud,
                "require": ["exp", "iat", "sub"],
            },
        )
    except jwt.PyJWTError as exc:
        raise AuthError(401, f"invalid token: {exc}") from exc
    return claims


def issue(state: LiveState, tenant: str, user: str, plan: str) -> tuple[str, int]:
    """A token for (tenant, user, plan), valid JWT_ACCESS_TOKEN_EXPIRE_MINUTES; (token, seconds)."""
    settings = state.config.security.jwt
    now = int(time.time())
    lifetime = settings.access_token_expire_minutes * 60
    claims = {
        "sub": user,
        "tenant": tenant,
        "plan": plan,
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, state.secret("JWT_SECRET_KEY"), algorithm=settings.algorithm), lifetime


def authenticate(
    state: LiveState, method: str, authorization: str | None, cookies: dict[str, str], headers: dict[str, str]
) -> Principal:
    """Find and verify the caller's token; enforce CSRF for cookie-authenticated writes.

    A bearer token in ``Authorization`` is not sent by browsers on their own, so only a
    token taken from the session cookie needs the CSRF double-submit check (the
    CSRF_HEADER_NAME header must equal the CSRF_COOKIE_NAME cookie).
    """
    via_cookie = False
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    elif ACCESS_COOKIE in cookies:
        token, via_cookie = cookies[ACCESS_COOKIE], True
    else:
        raise AuthError(401, "missing bearer token")
    claims = verify(token, state)
    csrf = state.config.security.csrf
    if via_cookie and csrf.enabled and method not in SAFE_METHODS:
        sent = headers.get(csrf.header_name.lower(), "")
        expected = cookies.get(csrf.cookie_name, "")
        if not expected or not hmac.compare_digest(sent, expected):
            raise AuthError(
                403, f"CSRF check failed: send the {csrf.cookie_name} cookie's value in {csrf.header_name}"
            )
    return Principal(
        tenant=str(claims.get("tenant", "")),
        user=str(claims["sub"]),
        plan=str(claims.get("plan", "free")),
        via_cookie=via_cookie,
    )


def new_csrf_token() -> str:
    """A fresh random double-submit token."""
    return secrets.token_urlsafe(32)
