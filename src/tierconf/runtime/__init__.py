"""Dynamic configuration: a typed snapshot that follows its source without a restart.

::

    from tierconf.runtime import LiveConfig

    live = LiveConfig.from_directory("/etc/config", environment="production")
    live.snapshot().security.rate_limit.requests     # lock-free, immutable, typed
    live.subscribe(on_change, path="security.rate_limit")
    live.flags.is_enabled("ai_recommendation", tenant="acme", user="u1")

How an update travels::

    Watcher.wait()        inotify on the volume (DirectoryWatcher) / etcd watch / in memory
    Watcher.read()        every KEY -> bytes, one consistent version (kubelet's ..data)
    checksum              same content as in use -> "unchanged", nothing else happens
    build_state()         parse by type, resolve_config (schema), rules -> LiveState or reject
    swap                  one attribute assignment; readers see the old or the new state
    notify                metrics, log, subscribers (worker thread), async waiters

Errors (all ``TierconfError``): ``SourceUnavailableError`` (the source cannot be read; the
last good snapshot stays), ``InvalidConfigurationError`` (an update, or the first load, is
not valid; an update is rejected), ``LiveConfigClosedError`` (``await live.changed()`` on a
closed LiveConfig), ``DependencyMissingError`` (an extra is not installed).

Extra ``runtime``: watchfiles (directory watching) and prometheus-client (metrics), both
imported only when used.
"""

from tierconf.runtime._build import BuildTarget, LiveSecrets, LiveState, build_state, checksum_of
from tierconf.runtime._directory import DirectoryWatcher, read_volume
from tierconf.runtime._flags import LiveFlags
from tierconf.runtime._live import Health, LiveConfig, RuntimeOptions
from tierconf.runtime._logging import (
    JsonFormatter,
    SizeAndTimeRotatingFileHandler,
    TextFormatter,
    configure_logging,
    parse_size,
    reset_logging,
)
from tierconf.runtime._memory import InMemoryWatcher
from tierconf.runtime._metrics import RuntimeMetrics
from tierconf.runtime._notify import LiveConfigClosedError, Subscription
from tierconf.runtime._source import SourceData, SourceUnavailableError, Watcher

__all__ = [
    "BuildTarget",
    "DirectoryWatcher",
    "Health",
    "InMemoryWatcher",
    "JsonFormatter",
    "LiveConfig",
    "LiveConfigClosedError",
    "LiveFlags",
    "LiveSecrets",
    "LiveState",
    "RuntimeMetrics",
    "RuntimeOptions",
    "SizeAndTimeRotatingFileHandler",
    "SourceData",
    "SourceUnavailableError",
    "Subscription",
    "TextFormatter",
    "Watcher",
    "build_state",
    "checksum_of",
    "configure_logging",
    "parse_size",
    "read_volume",
    "reset_logging",
]
