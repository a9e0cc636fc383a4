"""Fixtures for the delivery tests: a scope, rendered desired states, the fake API server."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from k8s_fake import FakeKubeAPI
from support import resolve
from tierconf.render import render
from tierconf.render._manifests import RenderOptions
from tierconf.secrets import SecretOptions, resolve_secrets
from tierconf.targets import DesiredState, Scope, desired_from_rendered

NAMESPACE = "spotify-ai-agent-dev"
WORKLOADS = ("Deployment/spotify-ai-agent-api", "StatefulSet/spotify-ai-agent-ml-inference")

DesiredFactory = Callable[..., DesiredState]


@pytest.fixture
def scope() -> Scope:
    """The bundled app's development tier in its default namespace."""
    return Scope("spotify-ai-agent", "development", None, NAMESPACE)


@pytest.fixture
def make_desired(tmp_path: Path, scope: Scope) -> DesiredFactory:
    """``make_desired(sets=..., secrets={KEY: value}, ...)`` renders the bundled development tier.

    Secrets not given are generated once per test (kept under tmp_path), so two calls
    differ only where the arguments do.
    """

    def make(
        *,
        sets: tuple[str, ...] = (),
        secrets: Mapping[str, str] | None = None,
        workloads: tuple[str, ...] = WORKLOADS,
        immutable: bool = False,
        external: bool = False,
        target_scope: Scope | None = None,
    ) -> DesiredState:
        chosen = target_scope or scope
        resolved = resolve(tier=chosen.tier, tenant=chosen.tenant, sets=sets)
        environ = {f"TIERCONF_SECRET_{k}": v for k, v in (secrets or {}).items()}
        values = resolve_secrets(resolved, SecretOptions(environ=environ, state_dir=tmp_path / "state"))
        mode = "external" if external else "inline"
        rendered = render(resolved, values, RenderOptions(secrets=mode))
        return desired_from_rendered(rendered, chosen, workloads=workloads, immutable=immutable)

    return make


@pytest.fixture
def fake_api() -> Iterator[FakeKubeAPI]:
    """A started fake API server with the development namespace created."""
    with FakeKubeAPI(crds=True) as fake:
        fake.create_namespace(NAMESPACE)
        yield fake


@pytest.fixture
def kubeconfig(fake_api: FakeKubeAPI, tmp_path: Path) -> Path:
    """A kubeconfig file pointing at ``fake_api``."""
    return fake_api.write_kubeconfig(tmp_path / "kube" / "config")
