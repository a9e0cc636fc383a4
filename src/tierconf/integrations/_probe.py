"""The result of one health probe, shared by every client module and ``health_report``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from tierconf.schema import MASK

__all__ = ["Probe", "ProbeResult", "ProbeStatus", "masked", "timed_probe"]

#: ``up``: answered; ``down``: refused, failed or unhealthy; ``timeout``: no answer in time.
ProbeStatus = Literal["up", "down", "timeout"]


@dataclass(frozen=True)
class ProbeResult:
    """What one probe of one dependency found.

    Attributes:
        target: ``host:port`` (or URL without credentials) that was probed.
        status: ``up``, ``down`` or ``timeout``.
        latency_ms: How long the probe took.
        error: Why it is not up (never holds a secret), or ``None``.
        details: Extra facts (``lag_seconds`` of a replica, server version...).
    """

    target: str
    status: ProbeStatus
    latency_ms: float
    error: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """True when the dependency answered and is fit for use."""
        return self.status == "up"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, as ``health_report`` shows it."""
        return {
            "status": self.status,
            "healthy": self.healthy,
            "target": self.target,
            "latency_ms": round(self.latency_ms, 1),
            "error": self.error,
            **self.details,
        }


#: A probe gets its time budget in seconds and must return within about that long.
Probe = Callable[[float], ProbeResult]


def masked(message: str, *secrets: str | None) -> str:
    """``message`` with every secret value in it replaced by the mask."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, MASK)
    return message


def timed_probe(
    target: str,
    check: Callable[[], Mapping[str, object] | None],
    errors: tuple[type[BaseException], ...],
    *,
    secrets: tuple[str | None, ...] = (),
    unhealthy: Callable[[Mapping[str, object]], str | None] | None = None,
) -> ProbeResult:
    """Run ``check``; ``errors`` it raises mean ``down`` with the (masked) message.

    ``check`` returns details for the result; ``unhealthy(details)`` may name a reason why a
    dependency that answered is still not fit (a lagging replica).
    """
    start = time.perf_counter()
    try:
        details = dict(check() or {})
    except errors as exc:
        elapsed = (time.perf_counter() - start) * 1000
        text = f"{type(exc).__name__}: {exc}".strip()
        cause = exc.__cause__
        if cause is not None and str(cause) not in text:
            text += f" ({cause})"  # elastic-transport says only "Connection error"; the cause says why
        reason = masked(text, *secrets)
        one_line = " ".join(line.strip() for line in reason.splitlines() if line.strip())
        return ProbeResult(target, "down", elapsed, one_line or type(exc).__name__)
    elapsed = (time.perf_counter() - start) * 1000
    problem = unhealthy(details) if unhealthy is not None else None
    return ProbeResult(target, "down" if problem else "up", elapsed, problem, details)
