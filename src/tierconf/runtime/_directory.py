"""Watching a directory of one file per KEY: a kubelet-projected volume or plain files.

Kubelet never edits a projected file in place. It writes a new timestamped directory,
renames a symlink over ``..data`` (one atomic step for every KEY) and deletes the old
directory; mtimes are kept from the source object, so only content tells what changed.
Watchers that follow the per-KEY symlinks, or that look at mtimes, miss that swap (flagd,
OPA, Envoy and configmap-reload all did at some point). We therefore:

* read through ``..data`` once resolved (the whole set comes from one timestamped
  directory) and re-check the link afterwards, retrying if it moved while we read;
* watch the volume directory itself, not the files (the rename of ``..data`` is an event in
  that directory), plus its parent, so that a volume that disappears and comes back is
  noticed and watched again;
* also accept a plain directory (files edited in place or replaced by rename), reported as
  not atomic so the runtime re-reads before rejecting a half-written file.

inotify comes from watchfiles' Rust backend (``RustNotify``, documented in watchfiles'
"Rust backend" API page); it is created before the first read so that no change can fall
between the read and the start of the watch.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from tierconf.errors import missing_extra
from tierconf.runtime._source import SourceData, SourceUnavailableError

if TYPE_CHECKING:
    from watchfiles._rust_notify import RustNotify

DATA_LINK = "..data"
#: A ConfigMap or Secret holds at most 1 MiB, so no single value can be larger.
MAX_FILE_BYTES = 1024 * 1024
_READ_ATTEMPTS = 20
_Identity = tuple[int, int]


def _read_files(directory: Path) -> dict[str, bytes]:
    """Every visible regular file of ``directory`` (symlinks followed), KEY -> content."""
    files: dict[str, bytes] = {}
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue
            # os.open/os.read: a third of the cost of open().read() for 200 small files.
            fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                files[entry.name] = os.read(fd, MAX_FILE_BYTES + 1)
            finally:
                os.close(fd)
    return files


def _data_link(directory: Path) -> str | None:
    """Where ``..data`` points, or None when the directory is not kubelet-projected."""
    try:
        return os.readlink(directory / DATA_LINK)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return None


def read_volume(directory: Path) -> SourceData:
    """Read a kubelet-projected volume (atomically) or a plain directory of KEY files.

    Raises:
        SourceUnavailableError: the directory does not exist, cannot be read, or was
            swapped on every one of several attempts.
    """
    origin = str(directory)
    for _ in range(_READ_ATTEMPTS):
        target = _data_link(directory)
        try:
            if target is None:
                if not directory.is_dir():
                    raise SourceUnavailableError(
                        f"configuration directory {origin} does not exist (is the volume mounted?)"
                    )
                return SourceData(_read_files(directory), origin, atomic=False)
            files = _read_files(directory / target)
        except (FileNotFoundError, NotADirectoryError):
            continue  # swapped or removed while we read: start again
        except PermissionError as exc:
            raise SourceUnavailableError(f"cannot read {origin}: {exc.strerror}") from exc
        if _data_link(directory) == target:
            return SourceData(files, origin, atomic=True)
    raise SourceUnavailableError(f"{origin} kept changing while it was read; will retry")


def _identity(path: Path) -> _Identity | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


class DirectoryWatcher:
    """:class:`~tierconf.runtime.Watcher` over a directory of one file per KEY.

    Args:
        directory: The mounted volume (or a plain directory).
        step_ms: The longest a change waits before it is reported (the batch is cut
            ``step_ms`` after its first event); also how often the idle watch wakes up
            (2 ms costs about 1% of one core).
        tick: How often, at most, the directory's identity is checked (removed, recreated).
    """

    def __init__(self, directory: str | Path, *, step_ms: int = 2, tick: float = 0.25) -> None:
        try:
            from watchfiles._rust_notify import RustNotify
        except ImportError as exc:
            raise missing_extra("watchfiles", "runtime") from exc
        self._rust_notify = RustNotify
        self.directory = Path(os.path.abspath(directory))
        self._prefix = str(self.directory) + os.sep
        self._data = str(self.directory / DATA_LINK)
        self._step_ms = max(1, step_ms)
        self._tick_ms = max(self._step_ms, int(tick * 1000))
        self._stop = threading.Event()
        self._wait_lock = threading.Lock()
        self._notifier: RustNotify | None = None
        self._watched: _Identity | None = None
        self._start()

    def __repr__(self) -> str:
        return f"DirectoryWatcher({str(self.directory)!r})"

    @property
    def origin(self) -> str:
        """The directory, as messages name it."""
        return str(self.directory)

    def read(self) -> SourceData:
        """Read the current content (see :func:`read_volume`)."""
        return read_volume(self.directory)

    def wait(self, timeout: float) -> bool:
        """Block until something in (or of) the directory changed, or ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._wait_lock:
            while not self._stop.is_set():
                if _identity(self.directory) != self._watched:
                    # Removed, recreated or replaced: watch the new one and re-read now.
                    self._start()
                    return True
                remaining_ms = int((deadline - time.monotonic()) * 1000)
                if remaining_ms <= 0:
                    return False
                timeout_ms = min(self._tick_ms, remaining_ms)
                if self._notifier is None:
                    if self._stop.wait(timeout_ms / 1000):
                        return False
                    continue
                # Debounce = step: return at most one step after the first event instead of
                # waiting for the directory to go quiet (kubelet deletes the old data right
                # after the swap, which would stretch the batch); the swap itself is atomic,
                # and a batch that does not concern ..data just loops.
                result = self._notifier.watch(self._step_ms, self._step_ms, timeout_ms, self._stop)
                if isinstance(result, set) and self._concerns_us(path for _, path in result):
                    return True
            return False

    def close(self) -> None:
        """Stop watching; a blocked :meth:`wait` returns within ``step_ms``."""
        self._stop.set()
        with self._wait_lock:
            self._close_notifier()

    def _concerns_us(self, paths: Iterable[str]) -> bool:
        """Whether an event batch can change what :meth:`read` returns.

        In a kubelet volume only ``..data`` matters: the staging directory appearing, the
        old one being deleted and the per-KEY symlinks are noise (reading on them would
        only find the content unchanged, and could delay the read that matters). In a
        plain directory, any visible file counts; hidden ones (editor swap files) do not.
        """
        directory = str(self.directory)
        kubelet = os.path.islink(self._data)
        for path in paths:
            if path == directory:
                return True
            if not path.startswith(self._prefix):
                continue
            name = path[len(self._prefix) :]
            if name == DATA_LINK or (not kubelet and not name.startswith(".")):
                return True
        return False

    def _start(self) -> None:
        self._close_notifier()
        self._watched = _identity(self.directory)
        paths = [str(self.directory)] if self._watched is not None else []
        parent = self.directory.parent
        if parent != self.directory and parent.is_dir():
            paths.append(str(parent))
        if not paths:
            return
        try:
            self._notifier = self._rust_notify(paths, False, False, 300, False, True)
        except (FileNotFoundError, NotADirectoryError):
            self._notifier = None  # vanished in between; the next wait() looks again
            self._watched = None

    def _close_notifier(self) -> None:
        if self._notifier is not None:
            self._notifier.close()
            self._notifier = None
