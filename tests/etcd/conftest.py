"""Fixtures for the etcd tests: unique key prefixes, URLs, rendered releases, bounded waits.

Every test runs against real etcd (the session's single member, or clusters from
``etcd_cluster_factory``); nothing is mocked.
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tierconf.pipeline import ConfigRequest, resolve_config
from tierconf.render import render
from tierconf.runtime import RuntimeOptions
from tierconf.secrets import SecretOptions, resolve_secrets
from tierconf.targets import DesiredState, Scope, desired_from_rendered
from tierconf.tiers import EnvironmentTier
from tierconf.tree import load_tree

WAIT = 60.0
"""Generous: the machine is shared with other test runs; waits poll and return early."""
SOAK = os.environ.get("TIERCONF_SOAK") == "1"
APP = "spotify-ai-agent"


def wait_for(predicate: Callable[[], object], timeout: float = WAIT, what: str = "condition") -> None:
    """Poll ``predicate`` (every 10 ms) until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.01)


def etcd_url(endpoints: Iterable[str], prefix: str, **options: str) -> str:
    """``etcd://h:p,h:p?prefix=...`` from ``http://h:p`` endpoints."""
    hosts = ",".join(e.split("://", 1)[1] for e in endpoints)
    query = "&".join(f"{k}={v}" for k, v in {"prefix": prefix, **options}.items())
    return f"etcd://{hosts}?{query}"


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses."""
    return f"/tierconf-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def dev_desired(tmp_path_factory: pytest.TempPathFactory) -> DesiredState:
    """The bundled development tier rendered once (generated secrets), as a deploy desires it."""
    tree = load_tree()
    resolved = resolve_config(tree, ConfigRequest(EnvironmentTier.DEVELOPMENT))
    secrets = resolve_secrets(resolved, SecretOptions(state_dir=tmp_path_factory.mktemp("secret-state")))
    scope = Scope(tree.project.app, "development", None, "spotify-ai-agent-dev")
    return desired_from_rendered(render(resolved, secrets), scope)


def with_values(desired: DesiredState, revision: int, **values: str) -> DesiredState:
    """``desired`` numbered ``revision`` with some KEYs changed wherever they are rendered."""
    manifests: list[dict[str, Any]] = []
    for manifest in desired.manifests:
        copied = copy.deepcopy(dict(manifest))
        data = copied.get("data") or {}
        for key, value in values.items():
            if key in data:
                data[key] = value
        manifests.append(copied)
    return replace(desired, manifests=tuple(manifests), revision=revision, checksum=f"sha256:test-{revision}")


def release_n(desired: DesiredState, n: int) -> DesiredState:
    """Release ``n`` of the fault tests: RATE_LIMIT_REQUESTS = 1000 + n tells them apart."""
    return with_values(desired, n, RATE_LIMIT_REQUESTS=str(1000 + n))


def config_map(scope: Scope, name: str, data: Mapping[str, str], revision: int) -> DesiredState:
    """A synthetic desired state: one ConfigMap holding ``data``."""
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": scope.namespace, "labels": scope.labels()},
        "data": dict(data),
    }
    return DesiredState(scope, (manifest,), revision=revision, checksum=f"sha256:synthetic-{revision}")


def runtime_options(poll_interval: float = 2.0) -> RuntimeOptions:
    """A private metrics registry per LiveConfig, polling often enough to notice problems."""
    return RuntimeOptions(poll_interval=poll_interval, registry=CollectorRegistry())


@pytest.fixture
def scope() -> Scope:
    """The development tier of the bundled app."""
    return Scope(APP, "development", None, "spotify-ai-agent-dev")


def here() -> Path:
    """This directory (for the helper scripts)."""
    return Path(__file__).parent
