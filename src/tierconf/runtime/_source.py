"""The boundary between a running service and where its configuration lives.

A :class:`Watcher` is one place configuration is read from and watched: a kubelet-projected
volume (:class:`~tierconf.runtime.DirectoryWatcher`), an in-memory twin for tests
(:class:`~tierconf.runtime.InMemoryWatcher`), and later etcd. It knows nothing about the
schema: it hands over raw ``KEY -> bytes`` and says when they may have changed. Parsing,
validation and the swap are :class:`~tierconf.runtime.LiveConfig`'s job, so every source gets
them identically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tierconf.errors import TierconfError


class SourceUnavailableError(TierconfError):
    """The configuration source cannot be read right now (directory missing, server down).

    The runtime keeps its last good snapshot and tries again; the message says what is
    missing and where.
    """


@dataclass(frozen=True)
class SourceData:
    """One consistent read of a source.

    Attributes:
        files: KEY -> raw content, exactly as the source holds it.
        origin: Where it was read from, for messages (``/etc/config``, ``memory://``).
        revision: The source's own id of this content (an etcd manifest revision), or
            ``None`` to use the content hash.
        atomic: True when the whole set was read from one atomic version (kubelet's
            ``..data`` directory, an etcd transaction). False for plain files that may be
            caught half-written; the runtime then re-reads once before rejecting.
    """

    files: Mapping[str, bytes] = field(repr=False)
    origin: str
    revision: str | None = None
    atomic: bool = True


@runtime_checkable
class Watcher(Protocol):
    """A configuration source the runtime can read and wait on.

    One consumer (the runtime's watch thread) calls :meth:`wait` and :meth:`read`; another
    thread may call :meth:`close` at any time, which makes a blocked :meth:`wait` return
    promptly.
    """

    def read(self) -> SourceData:
        """Read the whole current content. Raises :class:`SourceUnavailableError`."""
        ...

    def wait(self, timeout: float) -> bool:
        """Block until the content may have changed (True) or ``timeout`` seconds pass
        or the watcher is closed (False). A spurious True is fine: content is compared."""
        ...

    def close(self) -> None:
        """Stop watching and release resources (inotify handles, connections)."""
        ...
