"""Shared by the live probes: TCP reachability and password lookup without generation."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tierconf.pipeline import ResolvedConfig
from tierconf.rules import RuleHit
from tierconf.schema import SecretRef, registry
from tierconf.secrets import (
    DirectorySecretSource,
    EnvSecretSource,
    ReferenceSecretSource,
    SecretOptions,
    SecretRequest,
    SecretSource,
)

#: Secret KEYs the probes may need.
PASSWORD_KEYS = ("DB_PASSWORD", "REDIS_PASSWORD", "MONGO_PASSWORD", "ELASTICSEARCH_PASSWORD")


@dataclass
class ProbeResult:
    """Hits of one probe, by rule code."""

    hits: list[tuple[str, RuleHit]] = field(default_factory=list)

    def add(self, code: str, hit: RuleHit) -> None:
        """Record a hit for rule ``code``."""
        self.hits.append((code, hit))


def tcp_problem(host: str, port: int, timeout: float) -> str | None:
    """Why ``host:port`` does not accept a TCP connection within ``timeout``, or None."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _base_dir(resolved: ResolvedConfig, path: str) -> Path:
    layered = resolved.values.get(path)
    if layered is None:
        return Path.cwd()
    origin = layered.origin
    if origin.kind in ("base", "environment", "tenant"):
        return resolved.tree.root / Path(origin.layer).parent
    return Path(origin.file).parent if origin.file is not None else Path.cwd()


def live_passwords(resolved: ResolvedConfig, options: SecretOptions | None) -> Mapping[str, str]:
    """Passwords of the data stores, from the documented secret sources, in their order.

    Unlike ``resolve_secrets`` this never generates a value (a random password cannot
    authenticate) and a missing one is not an error (the probe reports the refusal).
    """
    import os

    options = options or SecretOptions()
    environ = options.environ if options.environ is not None else os.environ
    sources: list[SecretSource] = [*options.extra_sources, EnvSecretSource(environ)]
    if options.secrets_dir is not None:
        sources.append(DirectorySecretSource(options.secrets_dir))
    sources.append(ReferenceSecretSource(environ))
    found: dict[str, str] = {}
    reg = registry()
    for key in PASSWORD_KEYS:
        spec = reg.by_key[key]
        layered = resolved.values.get(spec.path)
        ref = layered.value if layered is not None and isinstance(layered.value, SecretRef) else None
        request = SecretRequest(spec, ref, _base_dir(resolved, spec.path))
        for source in sources:
            hit = source.lookup(request)
            if hit is not None:
                found[key] = hit[0]
                break
    return found
