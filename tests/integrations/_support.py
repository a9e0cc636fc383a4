"""Helpers of the client tests: snapshots pointing at the test servers, polling, load threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from servers import PostgresServer
from tierconf.schema import TierConfig

DATABASE = "tierconf_integrations"
#: Bound of every wait for something asynchronous (a health check, a backend exiting).
WAIT = 30.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def postgres_config(
    primary: PostgresServer,
    *,
    replica: PostgresServer | None = None,
    interval: int = 1,
    max_lag: int = 10,
    **postgres: Any,
) -> TierConfig:
    """A snapshot whose ``database.postgres`` points at the test servers (no TLS)."""
    settings: dict[str, Any] = {
        "host": primary.host,
        "port": primary.port,
        "name": DATABASE,
        "user": primary.user,
        "sslmode": "disable",
        "connect_timeout": 3,
        "read_replica": {
            "enabled": replica is not None,
            "host": replica.host if replica is not None else None,
            "port": replica.port if replica is not None else 5432,
            "health_check_interval": interval,
            "max_lag_seconds": max_lag,
        },
        **postgres,
    }
    return TierConfig.model_validate({"database": {"postgres": settings}})


class Load:
    """``threads`` threads calling ``work()`` in a loop until :meth:`stop`; results and errors kept."""

    def __init__(self, work: Callable[[], object], threads: int) -> None:
        self._work = work
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.results: list[object] = []
        self.errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                result = self._work()
            except Exception as exc:
                with self._lock:
                    self.errors.append(exc)
            else:
                with self._lock:
                    self.results.append(result)

    @property
    def count(self) -> int:
        """Calls that succeeded so far."""
        return len(self.results)

    def since(self, mark: int) -> list[object]:
        """Results of the calls that succeeded after the ``mark``-th one."""
        with self._lock:
            return self.results[mark:]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=WAIT)
        assert not any(t.is_alive() for t in self._threads), "load threads did not stop"
