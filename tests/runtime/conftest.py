"""Fixtures for the runtime tests: rendered volume content, fresh metric registries, waits."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tierconf.pipeline import ConfigRequest, resolve_config
from tierconf.render import render
from tierconf.runtime import RuntimeOptions, reset_logging
from tierconf.secrets import SecretOptions, resolve_secrets
from tierconf.tiers import EnvironmentTier
from tierconf.tree import load_tree

#: Generous: the machine is shared with other test runs; waits poll and return early.
WAIT = 15.0

Files = dict[str, bytes]




def render_files(
    state_dir: Path,
    tier: str = "development",
    sets: tuple[str, ...] = (),
    secrets: Mapping[str, str] | None = None,
) -> Files:
    """KEY -> content exactly as ``tierconf generate --format volume`` writes them.

    ``secrets`` (KEY -> value) stand for ``TIERCONF_SECRET_<KEY>``; development generates
    the missing ones under ``state_dir``.
    """
    tree = load_tree()
    resolved = resolve_config(tree, ConfigRequest(EnvironmentTier.parse(tier), sets=sets))
    environ = {f"TIERCONF_SECRET_{key}": value for key, value in (secrets or {}).items()}
    secret_values = resolve_secrets(resolved, SecretOptions(state_dir=state_dir, environ=environ))
    flat = render(resolved, secret_values).flat(masked=False)
    return {key: value.encode("utf-8") for key, value in flat.items()}


def wait_for(predicate: Callable[[], object], timeout: float = WAIT, what: str = "condition") -> None:
    """Poll ``predicate`` every 5 ms until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.005)


def volume(files: Mapping[str, bytes]) -> dict[str, tuple[bytes, int]]:
    """``write_volume`` input: secrets 0600 as kubelet would project them."""
    secret_like = ("PASSWORD", "SECRET")
    return {k: (v, 0o600 if any(s in k for s in secret_like) else 0o644) for k, v in files.items()}


def with_values(files: Mapping[str, bytes], **changes: str) -> Files:
    """A copy of ``files`` with some KEYs set."""
    return {**files, **{k: v.encode("utf-8") for k, v in changes.items()}}


@pytest.fixture(scope="session")
def dev_files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """The bundled development tier, rendered once per session (generated secrets)."""
    return render_files(tmp_path_factory.mktemp("secret-state"))


@pytest.fixture
def volume_tmp(tmp_path: Path) -> Iterator[Path]:
    """A scratch directory on tmpfs when there is one (kubelet's Secret volumes are tmpfs):
    the same inotify behaviour as disk, without fsync costs on a shared machine."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path
        return
    base = Path(tempfile.mkdtemp(prefix="tierconf-runtime-", dir=shm))
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def metrics() -> CollectorRegistry:
    """A fresh Prometheus registry, so counts start at zero."""
    return CollectorRegistry()


@pytest.fixture
def options(metrics: CollectorRegistry) -> RuntimeOptions:
    """Fast polling and a private metrics registry."""
    return RuntimeOptions(poll_interval=0.5, registry=metrics)


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Undo configure_logging (root level and handler) after the test."""
    root = logging.getLogger()
    level = root.level
    yield
    reset_logging()
    root.setLevel(level)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """A metric sample's value (0 when absent), labels defaulting to development / no tenant."""
    full = {"environment": "development", "tenant": "", **labels}
    value = registry.get_sample_value(name, full)
    return 0.0 if value is None else value
