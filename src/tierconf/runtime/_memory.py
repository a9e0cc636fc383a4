"""``InMemoryWatcher``: the runtime's source twin, for tests that need no disk and no server."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from tierconf.runtime._source import SourceData, SourceUnavailableError

FileContent = str | bytes


def _encode(files: Mapping[str, FileContent]) -> dict[str, bytes]:
    return {key: value.encode("utf-8") if isinstance(value, str) else value for key, value in files.items()}


class InMemoryWatcher:
    """A :class:`~tierconf.runtime.Watcher` holding ``KEY -> content`` in memory.

    :meth:`publish` replaces the whole content at once, like kubelet's ``..data`` swap or an
    etcd transaction; :meth:`update` changes some KEYs and keeps the others. Both wake the
    runtime at once. :meth:`fail` makes reads raise, to test an unreachable source.

    Example::

        source = InMemoryWatcher({"RATE_LIMIT_REQUESTS": "100"})
        live = LiveConfig(source, environment="development")
        source.update(RATE_LIMIT_REQUESTS="5")
    """

    def __init__(
        self,
        files: Mapping[str, FileContent] | None = None,
        *,
        revision: str | None = None,
        origin: str = "memory://",
        atomic: bool = True,
    ) -> None:
        self.origin = origin
        self._atomic = atomic
        self._files = _encode(files or {})
        self._revision = revision
        self._error: SourceUnavailableError | None = None
        self._generation = 0
        self._seen = 0
        self._closed = False
        self._changed = threading.Condition()
        self.reads = 0

    def __repr__(self) -> str:
        return f"InMemoryWatcher({self.origin!r}, {len(self._files)} keys)"

    @property
    def files(self) -> dict[str, bytes]:
        """A copy of the current content."""
        with self._changed:
            return dict(self._files)

    def publish(self, files: Mapping[str, FileContent], *, revision: str | None = None) -> None:
        """Replace the whole content (KEYs not given disappear) and wake the runtime."""
        with self._changed:
            self._files = _encode(files)
            self._revision = revision
            self._notify()

    def update(self, files: Mapping[str, FileContent] | None = None, **changes: FileContent) -> None:
        """Set some KEYs (``update(RATE_LIMIT_REQUESTS="5")``), keep the rest."""
        with self._changed:
            merged = {**self._files, **_encode(files or {}), **_encode(changes)}
            self._files = merged
            self._revision = None
            self._notify()

    def fail(self, message: str | None) -> None:
        """Make every read raise ``SourceUnavailableError(message)``; ``None`` heals it."""
        with self._changed:
            self._error = SourceUnavailableError(message) if message is not None else None
            self._notify()

    def read(self) -> SourceData:
        """The current content, as one consistent set."""
        with self._changed:
            self.reads += 1
            if self._error is not None:
                raise self._error
            return SourceData(dict(self._files), self.origin, self._revision, self._atomic)

    def wait(self, timeout: float) -> bool:
        """Block until the next publish/update/fail, ``timeout`` or :meth:`close`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._seen == self._generation and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            if self._closed:
                return False
            self._seen = self._generation
            return True

    def close(self) -> None:
        """Wake a blocked :meth:`wait`, which then returns False for good."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _notify(self) -> None:
        self._generation += 1
        self._changed.notify_all()
