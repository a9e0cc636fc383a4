"""Whether the read replica serves reads: the rotation state and its background checker.

:class:`ReplicaRotation` is the state machine (in rotation or not, why, since when); every
switch is logged and counted. :class:`ReplicaMonitor` is the thread that feeds it health
checks at the configured interval. Neither knows PostgreSQL: the router gives the monitor a
``check`` function and reports failed reads itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tierconf.integrations._metrics import ClientMetrics, Direction
from tierconf.integrations._probe import ProbeResult

__all__ = ["ReplicaMonitor", "ReplicaRotation", "ReplicaStatus"]

_log = logging.getLogger("tierconf.integrations.postgres")

PENDING = "pending first health check"


@dataclass(frozen=True)
class ReplicaStatus:
    """Where plain reads go right now, and why.

    Attributes:
        replica: ``host:port`` of the configured replica, ``None`` when none is configured.
        in_rotation: True when plain reads go to the replica.
        reason: ``healthy``, or why reads go to the primary (unreachable, lagging...).
        lag_seconds: Replication lag at the last check, ``None`` when unknown.
        checked_at: ``time.time()`` of the last health check, ``None`` before the first.
        changes_in: Switches into rotation since the router was built.
        changes_out: Switches out of rotation since the router was built.
    """

    replica: str | None
    in_rotation: bool
    reason: str
    lag_seconds: float | None
    checked_at: float | None
    changes_in: int
    changes_out: int


def _reason_code(result: ProbeResult) -> str:
    """A short label for metrics: healthy, unreachable, not_standby, lagging, timeout."""
    if result.healthy:
        return "healthy"
    if result.status == "timeout":
        return "timeout"
    if "in_recovery" not in result.details:
        return "unreachable"
    return "lagging" if result.details["in_recovery"] else "not_standby"


class ReplicaRotation:
    """The rotation state of one router's replica; thread-safe, lock-free to read.

    A newly configured replica starts out of rotation until its first check passes.
    """

    def __init__(self, tenant: str, metrics: ClientMetrics) -> None:
        self._tenant = tenant
        self._metrics = metrics
        self._lock = threading.Lock()
        self._replica: str | None = None
        self._in = False
        self._reason = "no replica configured"
        self._lag: float | None = None
        self._checked_at: float | None = None
        self._last_failure = 0.0
        self._admitted = False
        self._changes = {"in": 0, "out": 0}

    def serves(self, replica: str | None) -> bool:
        """True when ``replica`` is the configured one and is in rotation."""
        return self._in and replica is not None and replica == self._replica

    def retarget(self, replica: str | None) -> None:
        """Follow a configuration change: a different replica starts pending its first check."""
        with self._lock:
            if replica == self._replica:
                return
            old, self._replica = self._replica, replica
            self._in, self._admitted, self._lag, self._checked_at = False, False, None, None
            self._reason = PENDING if replica else "no replica configured"
        if old is not None:
            self._metrics.replica_forget(old, self._tenant)
        if replica is not None:
            self._metrics.replica_state(replica, self._tenant, in_rotation=False)
            _log.info("read replica %s configured; reads go to the primary until it is checked", replica)

    def report_check(self, replica: str, result: ProbeResult, *, started: float, max_lag: float) -> None:
        """Apply the result of a health check that began at ``started`` (``time.monotonic()``).

        A healthy result from a check that began before the last failed read is stale and is
        ignored, so a replica that just failed a read is not put straight back.
        """
        lag = result.details.get("lag_seconds")
        lag_value = float(lag) if isinstance(lag, int | float) else None
        with self._lock:
            if replica != self._replica:
                return
            self._lag, self._checked_at = lag_value, time.time()
            if result.healthy and started < self._last_failure:
                return
        if lag_value is not None:
            self._metrics.replica_lag(replica, self._tenant, lag_value)
        if result.healthy:
            detail = f"healthy (lag {lag_value:.1f} s)" if lag_value is not None else "healthy"
            self._switch(replica, to_rotation=True, code="healthy", detail=detail)
        else:
            code = _reason_code(result)
            detail = result.error or code
            if code == "lagging":
                detail = f"lag {lag_value:.1f} s above the {max_lag:g} s bound"
            self._switch(replica, to_rotation=False, code=code, detail=detail)

    def report_read_failure(self, replica: str, error: str) -> None:
        """A read lost its replica connection: take the replica out until a later check passes."""
        with self._lock:
            if replica != self._replica:
                return
            self._last_failure = time.monotonic()
        self._switch(replica, to_rotation=False, code="read_failed", detail=error)

    def status(self) -> ReplicaStatus:
        """A consistent copy of the state."""
        with self._lock:
            return ReplicaStatus(
                replica=self._replica,
                in_rotation=self._in,
                reason=self._reason,
                lag_seconds=self._lag,
                checked_at=self._checked_at,
                changes_in=self._changes["in"],
                changes_out=self._changes["out"],
            )

    def forget(self) -> None:
        """Drop the metric series (the router is closing)."""
        with self._lock:
            replica, self._replica, self._in = self._replica, None, False
        if replica is not None:
            self._metrics.replica_forget(replica, self._tenant)

    def _switch(self, replica: str, *, to_rotation: bool, code: str, detail: str) -> None:
        with self._lock:
            if replica != self._replica:
                return
            changed = self._in != to_rotation
            was_pending = self._reason == PENDING
            admitted_before = self._admitted
            self._in = to_rotation
            self._admitted = self._admitted or to_rotation
            self._reason = detail
            if changed:
                self._changes["in" if to_rotation else "out"] += 1
        if not changed:
            if was_pending:
                _log.warning(
                    "read replica %s failed its first check: %s; reads go to the primary", replica, detail
                )
            return
        direction: Direction = "in" if to_rotation else "out"
        self._metrics.replica_state(replica, self._tenant, in_rotation=to_rotation)
        self._metrics.replica_change(replica, self._tenant, direction, code)
        if to_rotation:
            again = " again" if admitted_before else ""
            _log.info("read replica %s in rotation%s: %s; plain reads go to it", replica, again, detail)
        else:
            _log.warning("read replica %s out of rotation: %s; reads go to the primary", replica, detail)


class ReplicaMonitor:
    """A daemon thread that runs ``check`` every ``interval()`` seconds until stopped.

    ``interval`` is asked again after each check, so a configuration change of the
    interval applies at the next round; :meth:`wake` runs a check at once.
    """

    def __init__(self, check: Callable[[], object], interval: Callable[[], float], *, name: str) -> None:
        self._check = check
        self._interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread (once)."""
        self._thread.start()

    def wake(self) -> None:
        """Run the next check now instead of at the end of the interval."""
        self._wake.set()

    def stop(self, timeout: float) -> None:
        """Ask the thread to stop and wait up to ``timeout`` seconds for it."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        interval = 1.0
        while not self._stop.is_set():
            try:
                interval = self._interval()
            except Exception:  # noqa: BLE001 - keep the last interval; the checker must not die
                _log.exception("reading the replica health check interval failed")
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._check()
            except Exception:  # noqa: BLE001 - the checker must outlive any one failed check
                _log.exception("read replica health check failed unexpectedly")
