"""The boundary between the clients and the live configuration, and its in-memory twin.

The clients need four things from a running configuration: the current snapshot, a call
back after each swap, secret values and the runtime's own health. :class:`LiveSource` is
exactly that; ``tierconf.runtime.LiveConfig`` satisfies it, and so does
:class:`InMemoryLiveConfig`, which tests (ours and the users') drive by hand.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from tierconf.errors import SecretError, TierconfError
from tierconf.schema import TierConfig

__all__ = ["InMemoryLiveConfig", "LiveSource", "SecretLookup", "Subscriber", "Subscription", "lookup_secret"]

_log = logging.getLogger("tierconf.integrations")
_M = TypeVar("_M", bound=BaseModel)

#: Called with (old, new) after a snapshot swap.
Subscriber = Callable[[TierConfig, TierConfig], None]
#: ``secret("DB_PASSWORD") -> "..."``; raises ``LookupError`` or ``SecretError`` when unset.
SecretLookup = Callable[[str], str]


class Subscription(Protocol):
    """What ``subscribe`` returns: a handle that stops further calls."""

    def cancel(self) -> None:
        """Unsubscribe (idempotent)."""
        ...


class LiveSource(Protocol):
    """What the clients use of a live configuration (``tierconf.runtime.LiveConfig``)."""

    def snapshot(self) -> TierConfig:
        """The immutable configuration in use right now."""
        ...

    def subscribe(self, callback: Subscriber, *, path: str = ...) -> Subscription:
        """Call ``callback(old, new)`` after each swap that changed something under ``path``."""
        ...

    def secret(self, key: str) -> str:
        """The value of the secret setting ``key`` (``DB_PASSWORD``)."""
        ...

    def health(self) -> object:
        """The runtime's own readiness and liveness data."""
        ...


def lookup_secret(secrets: SecretLookup, key: str) -> str | None:
    """``secrets(key)``, or ``None`` when the secret has no value (the client connects without)."""
    try:
        return secrets(key)
    except (LookupError, SecretError):
        return None


def _value_at(config: TierConfig, path: str) -> object:
    node: object = config
    for part in filter(None, path.split(".")):
        node = node[part] if isinstance(node, Mapping) else getattr(node, part)
    return node


def _replace_at(model: _M, parts: list[str], value: object) -> _M:
    """A copy of ``model`` with the setting at ``parts`` replaced, validated by its model."""
    head, rest = parts[0], parts[1:]
    fields = type(model).model_fields if isinstance(model, BaseModel) else {}
    if head not in fields:
        raise TierconfError(f"{type(model).__name__} has no setting {head!r}", path=".".join(parts))
    new_value = _replace_at(getattr(model, head), rest, value) if rest else value
    # Attribute values (not model_dump) keep SecretRef objects and nested models as they are.
    data: dict[str, Any] = {name: getattr(model, name) for name in fields}
    data[head] = new_value
    return type(model).model_validate(data)


class InMemoryLiveConfig:
    """A :class:`LiveSource` held in memory: tests swap snapshots and secrets by hand.

    Subscribers are called synchronously, in the thread that calls :meth:`update` or
    :meth:`replace`, after the swap; a failing subscriber is logged and does not stop the
    others (as the runtime does).
    """

    def __init__(self, snapshot: TierConfig, secrets: Mapping[str, str] | None = None) -> None:
        self._snapshot = snapshot
        self._secrets = dict(secrets or {})
        self._subscribers: list[_InMemorySubscription] = []
        self._lock = threading.Lock()
        self.revision = 1

    def snapshot(self) -> TierConfig:
        """The snapshot in use."""
        return self._snapshot

    def subscribe(self, callback: Subscriber, *, path: str = "") -> _InMemorySubscription:
        """Register ``callback`` for changes under ``path`` (``""``: any change)."""
        subscription = _InMemorySubscription(self, path, callback)
        with self._lock:
            self._subscribers.append(subscription)
        return subscription

    def _remove(self, subscription: _InMemorySubscription) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are active (tests check that clients cancel theirs)."""
        return len(self._subscribers)

    def secret(self, key: str) -> str:
        """The secret ``key``; ``SecretError`` when it has no value."""
        try:
            return self._secrets[key]
        except KeyError:
            raise SecretError(f"secret {key} has no value in this in-memory configuration") from None

    def set_secret(self, key: str, value: str) -> None:
        """Give the secret ``key`` a new value (no subscriber is called: secrets are not config)."""
        self._secrets[key] = value

    def health(self) -> dict[str, object]:
        """Always loaded and healthy, with the current revision."""
        return {"loaded": True, "revision": self.revision, "last_error": None}

    def update(self, changes: Mapping[str, object]) -> TierConfig:
        """Swap in a snapshot with the settings at the dotted paths in ``changes`` replaced.

        Raises:
            TierconfError: a path names no setting; pydantic's ``ValidationError`` when a value
                is out of bounds (the snapshot then stays as it was).
        """
        new = self._snapshot
        for path, value in changes.items():
            new = _replace_at(new, path.split("."), value)
        self.replace(new)
        return new

    def replace(self, snapshot: TierConfig) -> None:
        """Swap in ``snapshot`` and call the subscribers whose path changed."""
        with self._lock:
            old, self._snapshot = self._snapshot, snapshot
            self.revision += 1
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            path = subscription.path
            if _value_at(old, path) == _value_at(snapshot, path):
                continue
            try:
                subscription.callback(old, snapshot)
            except Exception:  # noqa: BLE001 - isolation is the contract: one bad subscriber must not stop the others
                _log.exception("subscriber %r for %r failed", subscription.callback, path or "<root>")


class _InMemorySubscription:
    """One callback of an :class:`InMemoryLiveConfig`; :meth:`cancel` removes it."""

    def __init__(self, owner: InMemoryLiveConfig, path: str, callback: Subscriber) -> None:
        self._owner = owner
        self.path = path
        self.callback = callback

    def cancel(self) -> None:
        """Unsubscribe (idempotent)."""
        self._owner._remove(self)
