"""The FastAPI application: every handler reads the live configuration, nothing is cached.

Routes:

* ``/livez``, ``/readyz``, ``/healthz``  probes from ``live.health()``
* ``/metrics``                            Prometheus (tierconf's runtime metrics + ours)
* ``POST /v1/token``                      development/local only: a token for a tenant/user/plan
* ``GET /v1/me``                          authenticated and rate limited
* ``GET /v1/recommendations``             also behind the ``ai_recommendation`` flag
* ``POST /v1/playlists``                  a write: CSRF applies to cookie sessions
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from examples.service.auth import ACCESS_COOKIE, AuthError, Principal, authenticate, issue, new_csrf_token
from examples.service.ratelimit import RateLimiter
from fastapi import Body, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest

from tierconf.integrations.health import health_report
from tierconf.integrations.redis import RedisClients
from tierconf.runtime import LiveConfig

REQUESTS = Counter("service_requests", "API requests by route and status.", ("route", "status"))
LIMITED = Counter("service_rate_limited", "Requests refused by the rate limiter.", ("tenant",))
Handler = Callable[[Request, Principal], Awaitable[Response]]


def create_app(live: LiveConfig, redis_url: str | None) -> FastAPI:
    """Build the application around a running LiveConfig (closed at shutdown).

    Without ``redis_url`` the rate limiter uses tierconf's config-driven Redis client
    (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD... from the volume), rebuilt live on change.
    """
    clients = None if redis_url else RedisClients(live, client_name="spotify-ai-agent-service").start()
    limiter = RateLimiter(redis_url, prefix="spotify-ai-agent", clients=clients)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await limiter.close()
        live.close()

    app = FastAPI(title="Spotify AI Agent (tierconf reference service)", lifespan=lifespan)
    add_probes(app, live)
    add_token_route(app, live)
    add_api(app, live, limiter)
    return app


def add_probes(app: FastAPI, live: LiveConfig) -> None:
    """Readiness, liveness, health and metrics."""
    started_at = time.time()

    @app.get("/livez")
    def livez() -> JSONResponse:
        health = live.health()
        return JSONResponse({"live": health.live}, status_code=200 if health.live else 503)

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        health = live.health()
        return JSONResponse(
            {"ready": health.ready, "revision": health.revision}, status_code=200 if health.ready else 503
        )

    @app.get("/dependencies")
    def dependencies() -> JSONResponse:
        """Every dependency the configuration names, probed concurrently with bounded timeouts."""
        report = health_report(live.snapshot(), live.secret)
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        health = live.health()
        body = {**health.to_json(), "pid": os.getpid(), "started_at": started_at}
        return JSONResponse(body, status_code=200 if health.ready else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def add_token_route(app: FastAPI, live: LiveConfig) -> None:
    """``POST /v1/token`` (local and development only): a token and a CSRF cookie."""

    @app.post("/v1/token")
    def token(tenant: str = Body("acme"), user: str = Body("u1"), plan: str = Body("free")) -> JSONResponse:
        state = live.state()
        if state.config.application.environment not in ("local", "development"):
            return JSONResponse({"detail": "tokens are issued here only in local and development"}, 404)
        access, lifetime = issue(state, tenant, user, plan)
        csrf_token = new_csrf_token()
        session = state.config.security.session
        response = JSONResponse(
            {"access_token": access, "token_type": "bearer", "expires_in": lifetime, "csrf_token": csrf_token}
        )
        response.set_cookie(
            ACCESS_COOKIE,
            access,
            max_age=lifetime,
            httponly=True,
            secure=session.cookie_secure,
            samesite=session.cookie_samesite,
        )
        response.set_cookie(
            state.config.security.csrf.cookie_name,
            csrf_token,
            max_age=lifetime,
            secure=session.cookie_secure,
            samesite=session.cookie_samesite,
        )
        return response


def add_api(app: FastAPI, live: LiveConfig, limiter: RateLimiter) -> None:
    """The authenticated, rate-limited API."""

    async def guarded(request: Request, route: str, handler: Handler) -> Response:
        """Authenticate, rate limit, then run ``handler``; all from one LiveState."""
        state = live.state()
        try:
            principal = authenticate(
                state,
                request.method,
                request.headers.get("authorization"),
                dict(request.cookies),
                {k.lower(): v for k, v in request.headers.items()},
            )
        except AuthError as exc:
            REQUESTS.labels(route, str(exc.status)).inc()
            challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return JSONResponse({"detail": exc.message}, exc.status, headers=challenge)
        decision = await limiter.check(state.config, principal.tenant, principal.user, principal.plan)
        if not decision.allowed:
            REQUESTS.labels(route, "429").inc()
            LIMITED.labels(principal.tenant).inc()
            return JSONResponse({"detail": "rate limit exceeded"}, 429, headers=decision.headers())
        response = await handler(request, principal)
        response.headers.update(decision.headers())
        response.headers["X-Config-Revision"] = state.revision
        REQUESTS.labels(route, str(response.status_code)).inc()
        return response

    @app.get("/v1/me")
    async def me(request: Request) -> Response:
        async def handler(request: Request, principal: Principal) -> Response:
            return JSONResponse({"tenant": principal.tenant, "user": principal.user, "plan": principal.plan})

        return await guarded(request, "/v1/me", handler)

    @app.get("/v1/recommendations")
    async def recommendations(request: Request) -> Response:
        async def handler(request: Request, principal: Principal) -> Response:
            if not live.flags.is_enabled(
                "ai_recommendation", tenant=principal.tenant, user=principal.user, plan=principal.plan
            ):
                return JSONResponse({"detail": "ai_recommendation is not enabled for you"}, 404)
            limit = live.snapshot().ml.recommendation.max_results
            items: list[dict[str, Any]] = [{"track": f"track-{i}", "rank": i + 1} for i in range(3)]
            return JSONResponse({"max_results": limit, "items": items})

        return await guarded(request, "/v1/recommendations", handler)

    @app.post("/v1/playlists")
    async def create_playlist(request: Request) -> Response:
        async def handler(request: Request, principal: Principal) -> Response:
            body = await request.json() if await request.body() else {}
            name = str(body.get("name", "untitled"))[:100]
            return JSONResponse({"name": name, "owner": principal.user, "tenant": principal.tenant}, 201)

        return await guarded(request, "/v1/playlists", handler)
