"""End to end: the reference service (examples/service) on a real Redis, changed live.

The service runs as a subprocess on 127.0.0.1; its configuration volume is (re)written the
way a person following examples/service/README.md does it, `tierconf generate --format
volume` into the same directory (a kubelet-style ``..data`` swap), or with ``write_volume``
for content the CLI would refuse. Nothing is restarted: the process id never changes.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from servers import RedisServer, free_port
from support import run_cli
from tierconf.render import write_volume
from tierconf.runtime import read_volume

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0


def wait_until(check: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    """Poll ``check`` every 20 ms until truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Service:
    """The running service, its volume and the way to regenerate it."""

    client: httpx.Client
    volume: Path
    workdir: Path
    process: subprocess.Popen[bytes]
    log: Path
    base_sets: tuple[str, ...] = ()
    base_env: tuple[tuple[str, str], ...] = ()

    def health(self) -> dict[str, object]:
        """/healthz as a dict."""
        data: dict[str, object] = self.client.get("/healthz").json()
        return data

    def generate(self, *sets: str, env: dict[str, str] | None = None) -> None:
        """`tierconf generate -e dev --format volume -o VOLUME --set ...` and wait until applied."""
        before = self.health()["revision"]
        args = ["generate", "-e", "dev", "--format", "volume", "-o", str(self.volume)]
        for assignment in (*self.base_sets, *sets):
            args += ["--set", assignment]
        result = run_cli(*args, cwd=self.workdir, env={**dict(self.base_env), **(env or {})})
        assert result.returncode == 0, result.stderr
        wait_until(lambda: self.health()["revision"] != before, "the new revision to be applied")

    def token(self, user: str, tenant: str = "acme", plan: str = "free") -> str:
        """A token from the service's development endpoint."""
        response = self.client.post("/v1/token", json={"tenant": tenant, "user": user, "plan": plan})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def allowed_before_429(self, token: str, most: int = 50) -> int:
        """Requests to /v1/me that pass before the first 429."""
        for count in range(most):
            response = self.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 429:
                assert "Retry-After" in response.headers
                return count
            assert response.status_code == 200, response.text
        pytest.fail(f"no 429 after {most} requests")

    def metric(self, name: str, **labels: str) -> float:
        """One sample from /metrics (0 when absent)."""
        for line in self.client.get("/metrics").text.splitlines():
            if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@pytest.fixture
def service(tmp_path: Path, redis_factory: Callable[..., RedisServer]) -> Iterator[Service]:
    """The service on a free port, with RATE_LIMIT_REQUESTS=3 to start with.

    Redis is reached through tierconf's config-driven client: host, port and password come
    from the volume (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD), not from a command-line URL.
    """
    redis_password = "service-e2e-" + "r3d1s" * 6
    redis_server = redis_factory(requirepass=redis_password)
    volume = tmp_path / "volume"
    base_sets = (
        f"REDIS_HOST={redis_server.host}",
        f"REDIS_PORT={redis_server.port}",
        "REDIS_TLS=false",
        "RATE_LIMIT_STORAGE=redis",
    )
    base_env = (("TIERCONF_SECRET_REDIS_PASSWORD", redis_password),)
    set_args = [part for assignment in base_sets for part in ("--set", assignment)]
    result = run_cli(
        "generate",
        "-e",
        "dev",
        "--format",
        "volume",
        "-o",
        str(volume),
        "--set",
        "RATE_LIMIT_REQUESTS=3",
        *set_args,
        cwd=tmp_path,
        env=dict(base_env),
    )
    assert result.returncode == 0, result.stderr
    port = free_port()
    log = tmp_path / "service.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERCONF_SECRET_")}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "examples.service",
                "--volume",
                str(volume),
                "--port",
                str(port),
                "--poll-interval",
                "60",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    running = Service(client, volume, tmp_path, process, log, base_sets, base_env)
    try:
        wait_until(
            lambda: process.poll() is not None or client.get("/readyz").status_code == 200, "readiness"
        )
        assert process.poll() is None, log.read_text()
        yield running
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def unique(name: str) -> str:
    """A user id no other run has used in the shared Redis."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


class TestReferenceService:
    """The rate limit, the JWT key and a flag change while the service keeps running."""

    def test_dependencies_are_probed_with_the_config_driven_clients(self, service: Service) -> None:
        """/dependencies reports the Redis the volume configures as up (with its password)."""
        response = service.client.get("/dependencies", timeout=60)
        report = response.json()
        redis_checks = [check for name, check in report["checks"].items() if name.startswith("redis")]
        assert redis_checks, report
        assert all(check["status"] == "up" for check in redis_checks), report
        assert "r3d1s" not in response.text

    def test_rate_limit_changes_live_and_invalid_values_are_rejected(self, service: Service) -> None:
        """3 per window, then 5 after the swap; a rejected 0 leaves 5 in force; same process."""
        pid = service.health()["pid"]
        assert service.allowed_before_429(service.token(unique("alice"))) == 3

        service.generate("RATE_LIMIT_REQUESTS=5")
        assert service.allowed_before_429(service.token(unique("bob"))) == 5

        files = read_volume(service.volume).files
        bad = {**files, "RATE_LIMIT_REQUESTS": b"0"}
        write_volume(service.volume, {k: (v, 0o644) for k, v in bad.items()})
        def rejected() -> float:
            return service.metric("tierconf_config_reloads_total", result="rejected")

        wait_until(lambda: rejected() == 1, "the rejection to be counted")
        assert service.allowed_before_429(service.token(unique("carol"))) == 5
        health = service.health()
        assert health["pid"] == pid and health["ready"] is True
        assert "RATE_LIMIT_REQUESTS" in str(health["last_error"])

    def test_pro_plan_adds_the_burst(self, service: Service) -> None:
        """The tenant's plan counts: pro gets RATE_LIMIT_REQUESTS + RATE_LIMIT_BURST."""
        service.generate("RATE_LIMIT_REQUESTS=2", "RATE_LIMIT_BURST=3")
        assert service.allowed_before_429(service.token(unique("paula"), plan="pro")) == 5
        assert service.allowed_before_429(service.token(unique("fred"), plan="free")) == 2

    def test_jwt_key_rotation(self, service: Service) -> None:
        """After the Secret changes, old tokens get 401 and new ones pass."""
        old_token = service.token(unique("dave"))
        headers = {"Authorization": f"Bearer {old_token}"}
        assert service.client.get("/v1/me", headers=headers).status_code == 200

        new_key = secrets.token_urlsafe(64)
        service.generate(env={"TIERCONF_SECRET_JWT_SECRET_KEY": new_key})
        assert service.client.get("/v1/me", headers=headers).status_code == 401
        assert (
            service.client.get(
                "/v1/me", headers={"Authorization": f"Bearer {service.token(unique('erin'))}"}
            ).status_code
            == 200
        )

        claims = {
            "sub": unique("own"),
            "tenant": "acme",
            "iss": "https://api.spotify-ai-agent.com",
            "aud": "spotify-ai-agent-api",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        }
        signed = jwt.encode(claims, new_key, algorithm="HS512")
        assert service.client.get("/v1/me", headers={"Authorization": f"Bearer {signed}"}).status_code == 200

    def test_feature_flag_route_follows_the_flag(self, service: Service) -> None:
        """/v1/recommendations answers while ai_recommendation is on, 404 once it is off."""
        headers = {"Authorization": f"Bearer {service.token(unique('gina'))}"}
        assert service.client.get("/v1/recommendations", headers=headers).status_code == 200
        service.generate("flags.ai_recommendation.enabled=false")
        assert service.client.get("/v1/recommendations", headers=headers).status_code == 404

    def test_csrf_applies_to_cookie_sessions(self, service: Service) -> None:
        """A cookie-authenticated POST needs the CSRF header; a bearer one does not."""
        response = service.client.post("/v1/token", json={"tenant": "acme", "user": unique("hank")})
        token, csrf_token = response.json()["access_token"], response.json()["csrf_token"]
        cookies = f"access_token={token}; csrftoken={csrf_token}"
        post = service.client.post
        assert post("/v1/playlists", headers={"Cookie": cookies}, json={"name": "x"}).status_code == 403
        with_header = {"Cookie": cookies, "X-CSRF-Token": csrf_token}
        assert post("/v1/playlists", headers=with_header, json={"name": "x"}).status_code == 201
        bearer = {"Authorization": f"Bearer {token}"}
        assert post("/v1/playlists", headers=bearer, json={"name": "x"}).status_code == 201

    def test_probes_and_metrics(self, service: Service) -> None:
        """/livez and /readyz answer 200; /metrics carries the config info with its revision."""
        assert service.client.get("/livez").status_code == 200
        assert service.client.get("/readyz").json()["ready"] is True
        revision = str(service.health()["revision"])
        assert service.metric("tierconf_config_info", revision=revision) == 1
