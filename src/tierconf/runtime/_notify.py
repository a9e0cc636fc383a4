"""Telling the application about applied updates: path-filtered callbacks and async waiters.

Callbacks run on one worker thread, in the order updates were applied, after the swap:
``live.snapshot()`` inside a callback already returns ``new``. A callback that raises is
logged (secrets masked) and counted; the next callback runs anyway. A slow callback
delays the ones after it, never the swap itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from operator import attrgetter
from typing import Any

from tierconf.errors import SchemaError, TierconfError
from tierconf.runtime._build import LiveState
from tierconf.schema._flags import flag_key
from tierconf.schema._registry import registry
from tierconf.schema._root import DOMAINS, TierConfig

logger = logging.getLogger("tierconf.runtime")

Callback = Callable[[TierConfig, TierConfig], object]
"""``callback(old, new)``: the snapshot replaced and the one now in use."""


class LiveConfigClosedError(TierconfError):
    """The :class:`~tierconf.runtime.LiveConfig` was closed while waiting for an update."""


@cache
def _leaf_getters() -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    return tuple((spec.path, attrgetter(spec.path)) for spec in registry().settings if not spec.secret)


def changed_paths(old: LiveState, new: LiveState) -> frozenset[str]:
    """Setting paths whose value differs (secrets by fingerprint; flags per field)."""
    changed = {path for path, get in _leaf_getters() if get(old.config) != get(new.config)}
    reg = registry()
    for key in old.secret_fingerprints.keys() | new.secret_fingerprints.keys():
        if old.secret_fingerprints.get(key) != new.secret_fingerprints.get(key):
            changed.add(reg.by_key[key].path)
    old_flags, new_flags = old.config.flags, new.config.flags
    for name in old_flags.keys() | new_flags.keys():
        before, after = old_flags.get(name), new_flags.get(name)
        if before == after:
            continue
        changed.add(f"flags.{name}")
        if before is not None and after is not None:
            changed.update(
                f"flags.{name}.{field}"
                for field in type(after).model_fields
                if getattr(before, field) != getattr(after, field)
            )
    return frozenset(changed)


def check_path(path: str) -> str:
    """Normalise a subscription path: a KEY becomes its path; unknown paths are refused.

    Raises:
        SchemaError: no setting or group has this path, with a did-you-mean.
    """
    reg = registry()
    spec = reg.by_key.get(path)
    if spec is not None:
        return spec.path
    parts = path.split(".")
    if path in reg.by_path or path in reg.groups or path in DOMAINS:
        return path
    if parts[0] == "flags" and (len(parts) == 2 or (len(parts) == 3 and parts[2] in reg.flag_fields)):
        return path
    close = difflib.get_close_matches(path, [*reg.by_path, *reg.groups], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise SchemaError(f"cannot subscribe to {path!r}: no setting or group has this path{hint}", path=path)


class Subscription:
    """One registered callback; :meth:`cancel` stops further calls."""

    def __init__(self, callback: Callback, path: str | None, owner: Subscribers) -> None:
        self.callback = callback
        self.path = path
        self._owner = owner

    def __repr__(self) -> str:
        return f"Subscription({self.path or '*'}, {self.callback!r})"

    def matches(self, changed: frozenset[str]) -> bool:
        """Whether any changed path is this path, under it, or above it."""
        path = self.path
        if path is None:
            return bool(changed)
        prefix = path + "."
        return any(c == path or c.startswith(prefix) or path.startswith(c + ".") for c in changed)

    def cancel(self) -> None:
        """Unsubscribe (idempotent)."""
        self._owner.remove(self)


@dataclass(frozen=True)
class _Update:
    old: LiveState
    new: LiveState
    changed: frozenset[str]


_STOP = object()


class Subscribers:
    """The callbacks of one LiveConfig and the worker thread that calls them."""

    def __init__(self, on_error: Callable[[Subscription, BaseException], None]) -> None:
        self._subscriptions: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name="tierconf-live-notify", daemon=True)
        self._thread.start()

    def add(self, callback: Callback, path: str | None) -> Subscription:
        """Register ``callback`` for changes under ``path`` (None or "": any change)."""
        subscription = Subscription(callback, check_path(path) if path else None, self)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        """Forget one subscription."""
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    def publish(self, old: LiveState, new: LiveState, changed: frozenset[str]) -> None:
        """Queue an applied update for the worker thread."""
        if changed:
            self._queue.put(_Update(old, new, changed))

    def close(self) -> None:
        """Stop the worker after the updates already queued (not waiting from inside it)."""
        self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if not isinstance(item, _Update):
                return
            for subscription in self._subscriptions:
                if not subscription.matches(item.changed):
                    continue
                try:
                    subscription.callback(item.old.config, item.new.config)
                except Exception as exc:  # noqa: BLE001 - isolating callbacks is the point
                    self._on_error(subscription, exc)


class AsyncWaiters:
    """Futures of ``await live.changed()`` calls, resolved from the reload thread."""

    def __init__(self) -> None:
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[TierConfig]]] = set()
        self._lock = threading.Lock()

    async def wait(self, is_stale: Callable[[], TierConfig | None]) -> TierConfig:
        """Wait for the next :meth:`wake`, unless ``is_stale()`` already returns a snapshot."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[TierConfig] = loop.create_future()
        waiter = (loop, future)
        with self._lock:
            self._waiters.add(waiter)
        try:
            ready = is_stale()  # checked after registering: no wake-up can be lost in between
            if ready is not None:
                return ready
            return await future
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def wake(self, snapshot: TierConfig | None, error: BaseException | None = None) -> None:
        """Resolve every pending wait with ``snapshot`` (or fail it with ``error``)."""
        with self._lock:
            waiters = tuple(self._waiters)
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future, snapshot, error)


def _resolve(
    future: asyncio.Future[TierConfig], snapshot: TierConfig | None, error: BaseException | None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    elif snapshot is not None:
        future.set_result(snapshot)


def summarize(paths: Iterable[str], limit: int = 12) -> str:
    """``KEY, KEY, ... (+n more)`` for a log line (names only, never values)."""
    reg = registry()
    names = sorted({reg.by_path[p].key if p in reg.by_path else flag_key(p.split(".")[1]) for p in paths})
    shown = ", ".join(names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")
