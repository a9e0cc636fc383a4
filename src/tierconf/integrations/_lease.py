"""Swap a live resource (engines, client pools) without failing the requests that use it.

Every use of the resource happens under a lease. :meth:`Leased.swap` installs the new value
at once for new leases; the old value is disposed when its last lease is returned, so its
connections close only after every request that checked one out is done with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from tierconf.errors import TierconfError

__all__ = ["ClientClosedError", "Lease", "Leased"]

T = TypeVar("T")


class ClientClosedError(TierconfError):
    """A client was used after ``close()``; build a new one."""


class _Slot(Generic[T]):
    __slots__ = ("leases", "retired", "value")

    def __init__(self, value: T) -> None:
        self.value = value
        self.leases = 0
        self.retired = False


class Lease(Generic[T]):
    """One use of a :class:`Leased` value; :meth:`release` it exactly when done (idempotent)."""

    __slots__ = ("_owner", "_released", "_slot")

    def __init__(self, owner: Leased[T], slot: _Slot[T]) -> None:
        self._owner = owner
        self._slot = slot
        self._released = False

    @property
    def value(self) -> T:
        """The leased value; valid until :meth:`release`."""
        return self._slot.value

    def release(self) -> None:
        """Return the lease; the last one of a retired value disposes it."""
        if not self._released:
            self._released = True
            self._owner._release(self._slot)


class Leased(Generic[T]):
    """The current value of a swappable resource, handed out under leases.

    Args:
        value: The first value.
        dispose: Called once per retired value, after its last lease is returned, in the
            thread that returns it (or that swaps, when no lease is out). It must not raise.
        name: What the value is, for the error raised after :meth:`close`.
    """

    def __init__(self, value: T, dispose: Callable[[T], None], *, name: str) -> None:
        self._lock = threading.Lock()
        self._current = _Slot(value)
        self._dispose = dispose
        self._name = name
        self._closed = False
        self._retired_pending = 0

    @property
    def current(self) -> T:
        """The current value, without a lease (for inspection, not for use)."""
        return self._current.value

    @property
    def retired_pending(self) -> int:
        """Retired values still waiting for their leases to come back."""
        return self._retired_pending

    def acquire(self) -> Lease[T]:
        """Lease the current value.

        Raises:
            ClientClosedError: after :meth:`close`.
        """
        with self._lock:
            if self._closed:
                raise ClientClosedError(f"{self._name} is closed; build a new one")
            slot = self._current
            slot.leases += 1
        return Lease(self, slot)

    @contextmanager
    def lease(self) -> Iterator[T]:
        """``with leased.lease() as value:`` holds a lease for the block."""
        lease = self.acquire()
        try:
            yield lease.value
        finally:
            lease.release()

    def swap(self, value: T) -> None:
        """Make ``value`` current; retire the old one (disposed once its leases are back)."""
        with self._lock:
            if self._closed:
                raise ClientClosedError(f"{self._name} is closed; build a new one")
            old, self._current = self._current, _Slot(value)
        self._retire(old)

    def close(self) -> None:
        """Refuse new leases and retire the current value (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            old = self._current
        self._retire(old)

    def _retire(self, slot: _Slot[T]) -> None:
        with self._lock:
            slot.retired = True
            idle = slot.leases == 0
            if not idle:
                self._retired_pending += 1
        if idle:
            self._dispose(slot.value)

    def _release(self, slot: _Slot[T]) -> None:
        with self._lock:
            slot.leases -= 1
            dispose = slot.retired and slot.leases == 0
            if dispose:
                self._retired_pending -= 1
        if dispose:
            self._dispose(slot.value)
