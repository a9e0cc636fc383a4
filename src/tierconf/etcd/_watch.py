"""``EtcdWatcher``: the runtime source that follows a scope published to etcd.

It implements :class:`tierconf.runtime.Watcher` (``read``/``wait``/``close``) as a
list-then-watch mirror, as Kubernetes' reflectors do:

1. **List**: read the scope's prefix at one etcd revision ``R`` (a consistent snapshot).
2. **Watch** the prefix from ``R + 1``. Events arrive grouped by etcd revision, in order;
   each revision's events are applied to the mirror, so after revision ``r`` the mirror is
   exactly the prefix at ``r``.
3. **Deliver** a release only at a revision that wrote the manifest, and only when the
   mirror matches it (:meth:`Manifest.problem`: same KEYs, same checksum). If it does not,
   the prefix is read AT that revision to decide; a release that is still incomplete
   there is never delivered. Keys written without a manifest (the first transactions of
   a publish split by etcd's size limits) change nothing until the manifest comes.

Every release is queued in order: :meth:`read` hands them out one by one, so a runtime
that falls behind still applies each revision, never skipping one, never reordering.

Sharing: steps 1-3 run in a ``_Feed`` (one stream, one mirror, one watchdog). A watcher
built directly owns a feed; :func:`open_etcd_watcher` (``LiveConfig.from_etcd``) joins the
feed this process keeps per cluster configuration and scope, so N runtimes of one scope
in a process cost one stream and one check per release. Each watcher keeps its own queue.

Failures: when the stream breaks (member killed or stopped, leader lost: requests carry
``hasleader``) the watcher moves to the next endpoint and resumes from the last etcd
revision it processed plus one, so nothing is missed. A watchdog probes the stream's
member every ``check_interval`` seconds with a linearizable read: a member that stops
answering, or whose stream falls behind what the quorum holds, is abandoned the same way.
If the resume revision was compacted meanwhile, the watcher lists again (step 1) and
goes on from the current release: releases published and compacted while it was away
cannot be replayed, and ``stats.resyncs`` counts such events.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from dataclasses import dataclass
from types import MappingProxyType

from tierconf.runtime._source import SourceData, SourceUnavailableError

from ._client import CompactedError, EtcdClient, EtcdRequestError, WatchEvent, WatchStream, prefix_end
from ._config import EtcdConfig, default_app
from ._keys import AppKeys, LiveKeys
from ._manifest import Manifest, ManifestError, digest
from ._publish import read_published

logger = logging.getLogger("tierconf.etcd")


@dataclass
class WatcherStats:
    """Counters of one watcher (read them for health pages and tests).

    Attributes:
        delivered: Releases queued for the runtime.
        reconnects: Streams re-opened after a failure.
        resyncs: Full re-reads because the resume revision was compacted.
        incomplete: Manifests seen whose KEYs never matched (not delivered).
        skipped: Releases dropped because the runtime fell ``max_pending`` behind.
        last_revision: The last etcd revision fully processed.
        endpoint: The endpoint the stream is on (None while disconnected).
    """

    delivered: int = 0
    reconnects: int = 0
    resyncs: int = 0
    incomplete: int = 0
    skipped: int = 0
    last_revision: int = 0
    endpoint: str | None = None


class _Mirror:
    """The scope's keys as of etcd revision ``revision`` (mutated by the watch thread only)."""

    def __init__(self, keys: LiveKeys) -> None:
        self.keys = keys
        self.values: dict[str, bytes] = {}
        self.digests: dict[str, str] = {}
        self.fingerprints: dict[str, str] = {}
        self.manifest: Manifest | None = None
        self.manifest_revision = 0

    def apply(self, event: WatchEvent) -> bool:
        """Apply one event; True when it wrote the manifest."""
        kind_name = self.keys.classify(event.kv.key)
        if kind_name is None:
            return False
        kind, name = kind_name
        deleted = event.type == "DELETE"
        if kind == "objects":
            return False
        if kind == "manifest":
            self.manifest = None
            self.manifest_revision = 0
            if deleted:
                return False
            try:
                self.manifest = Manifest.from_json(event.kv.value, self.keys.base + "manifest")
            except ManifestError as exc:
                logger.error("%s; its release is not applied", exc)  # noqa: TRY400 - no traceback needed
                return False
            self.manifest_revision = event.kv.mod_revision
            return True
        target: dict[str, bytes] | dict[str, str] = self.values if kind == "keys" else self.fingerprints
        if deleted:
            target.pop(name, None)
            if kind == "keys":
                self.digests.pop(name, None)
        elif kind == "keys":
            self.values[name] = event.kv.value
            self.digests[name] = digest(event.kv.value)
        else:
            self.fingerprints[name] = event.kv.value.decode("utf-8", "replace")
        return False


class _Feed:
    """One watch stream and mirror of a scope, delivering complete releases to its consumers
    (:class:`EtcdWatcher` s). The list/watch/deliver steps and the failover of the module
    docstring live here; consumers only queue what it delivers."""

    def __init__(self, client: EtcdClient, keys: LiveKeys, *, check_interval: float) -> None:
        self._client = client
        self._keys = keys
        self.origin = f"{client.name}{keys.base}keys/"
        self.stats = WatcherStats()
        self._check_interval = check_interval
        self._lock = threading.Lock()  # consumers, latest release, error
        self._consumers: list[EtcdWatcher] = []
        self._latest: SourceData | None = None
        self._error: str | None = None
        self._closed = threading.Event()
        self._stream: WatchStream | None = None
        self._mirror: _Mirror | None = None
        self._delivered_revision = 0
        try:
            self._list()
        except (EtcdRequestError, ManifestError) as exc:
            self._set_error(f"cannot read {self.origin}: {exc}")
        self._thread = threading.Thread(target=self._run, name="tierconf-etcd-watch", daemon=True)
        self._thread.start()
        self._watchdog = threading.Thread(target=self._guard, name="tierconf-etcd-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def cluster(self) -> str:
        """The cluster's URL, for messages."""
        return self._client.name

    def join(self, consumer: EtcdWatcher) -> None:
        """Start delivering to ``consumer``: first the release in use (if any), then every
        later one; it also learns the connection state."""
        with self._lock:
            self._consumers.append(consumer)
            if self._latest is not None:
                consumer.offer(self._latest)
            consumer.set_error(self._error)

    def leave(self, consumer: EtcdWatcher) -> bool:
        """Stop delivering to ``consumer``; True when no consumer is left."""
        with self._lock:
            if consumer in self._consumers:
                self._consumers.remove(consumer)
            return not self._consumers

    def close(self) -> None:
        """Stop the stream and the watchdog, close the connection. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        for thread in (self._thread, self._watchdog):
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._client.close()

    # -- the watch thread ------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.05
        while not self._closed.is_set():
            endpoint = self._client.endpoint
            try:
                if self._mirror is None:
                    self._list()
                stream = self._client.watch(
                    self._keys.prefix, prefix_end(self._keys.prefix), self.stats.last_revision + 1
                )
                endpoint = stream.endpoint
                self._stream = stream
                if self._closed.is_set():
                    stream.close()
                    return
                self.stats.endpoint = endpoint
                self._set_error(None)
                for batch in stream:
                    self._handle(batch.events)
                    backoff = 0.05
            except CompactedError as exc:
                self.stats.resyncs += 1
                logger.warning(
                    "etcd history of %s was compacted past revision %d (%s): re-reading the prefix; "
                    "releases published meanwhile cannot be replayed",
                    self.origin,
                    self.stats.last_revision,
                    exc,
                )
                self._mirror = None
            except Exception as exc:  # noqa: BLE001 - the thread must survive anything; stats show it
                if self._closed.is_set():
                    return
                self.stats.endpoint = None
                self.stats.reconnects += 1
                self._set_error(
                    f"etcd watch of {self.origin} interrupted ({exc}); keeping release "
                    f"{self._latest_label()}, resuming from etcd revision {self.stats.last_revision + 1}"
                )
                self._client.rotate(endpoint)
                self._closed.wait(backoff)
                backoff = min(backoff * 2, 1.0)
            finally:
                self._stream = None

    def _list(self) -> None:
        """Step 1: read the prefix at one revision and deliver its release if new."""
        published = read_published(self._client, self._keys)
        mirror = _Mirror(self._keys)
        mirror.values = dict(published.values)
        mirror.digests = {key: digest(value) for key, value in published.values.items()}
        mirror.fingerprints = dict(published.fingerprints)
        mirror.manifest = published.manifest
        mirror.manifest_revision = published.manifest_kv.mod_revision if published.manifest_kv else 0
        self._mirror = mirror
        self.stats.last_revision = published.revision
        if mirror.manifest is not None and mirror.manifest_revision != self._delivered_revision:
            self._deliver_checked(mirror, mirror.manifest_revision)

    def _handle(self, events: tuple[WatchEvent, ...]) -> None:
        """Steps 2 and 3 for one message: apply events revision by revision."""
        mirror = self._mirror
        if mirror is None:
            return
        index = 0
        while index < len(events):
            revision = events[index].kv.mod_revision
            wrote_manifest = False
            while index < len(events) and events[index].kv.mod_revision == revision:
                wrote_manifest = mirror.apply(events[index]) or wrote_manifest
                index += 1
            self.stats.last_revision = revision
            if wrote_manifest and revision > self._delivered_revision:
                self._deliver_checked(mirror, revision)

    def _deliver_checked(self, mirror: _Mirror, revision: int) -> None:
        manifest = mirror.manifest
        if manifest is None:
            return
        values, fingerprints = mirror.values, mirror.fingerprints
        problem = manifest.problem(values, fingerprints, mirror.digests)
        if problem is not None:
            # The mirror should equal the prefix at `revision`; ask etcd to be sure.
            published = read_published(self._client, self._keys, revision=revision)
            values, fingerprints = dict(published.values), dict(published.fingerprints)
            problem = manifest.problem(values, fingerprints)
        if problem is not None:
            self.stats.incomplete += 1
            logger.error(
                "release %s at %s (etcd revision %d) is incomplete, not applied: %s",
                manifest.label,
                self.origin,
                revision,
                problem,
            )
            return
        # One read-only mapping for every consumer: runtimes that share it are known to
        # hold the same content (tierconf.runtime._build.SharedBuilds).
        data = SourceData(MappingProxyType(dict(values)), self.origin, manifest.label, atomic=True)
        with self._lock:
            self._latest = data
            self._delivered_revision = revision
            self.stats.delivered += 1
            for consumer in self._consumers:
                consumer.offer(data)

    # -- the watchdog ----------------------------------------------------------------------

    def _guard(self) -> None:
        """Abandon a stream whose member stopped answering or lags behind the quorum."""
        failures = 0
        lagging = 0
        while not self._closed.wait(self._check_interval):
            stream = self._stream
            if stream is None:
                failures = lagging = 0
                continue
            try:
                probe = self._client.probe(stream.endpoint, self._keys.manifest, self._check_interval)
            except EtcdRequestError as exc:
                failures += 1
                if failures >= 2:
                    logger.warning(
                        "etcd member %s does not answer (%s): moving the watch", stream.endpoint, exc
                    )
                    stream.close()
                    failures = 0
                continue
            failures = 0
            newest = probe.kvs[0].mod_revision if probe.kvs else 0
            lagging = lagging + 1 if newest > self.stats.last_revision else 0
            if lagging >= 3:
                logger.warning(
                    "etcd watch on %s is behind the quorum (revision %d seen, %d committed): resuming",
                    stream.endpoint,
                    self.stats.last_revision,
                    newest,
                )
                stream.close()
                lagging = 0

    # -- state -----------------------------------------------------------------------------

    def _set_error(self, message: str | None) -> None:
        with self._lock:
            if message == self._error:
                return
            self._error = message
            for consumer in self._consumers:
                consumer.set_error(message)

    def _latest_label(self) -> str:
        latest = self._latest
        return latest.revision if latest is not None and latest.revision else "none"


_FeedKey = tuple[EtcdConfig, bytes, float]
_shared_feeds: dict[_FeedKey, _Feed] = {}
_shared_lock = threading.Lock()


def _forget_feeds_after_fork() -> None:
    # A forked child (gunicorn --preload workers) inherits the registry but not the feeds'
    # threads: joining one would freeze it on the release current at fork time.
    global _shared_lock  # noqa: PLW0603 - the registry's lock, replaced in the child only
    _shared_feeds.clear()
    _shared_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_feeds_after_fork)


class EtcdWatcher:
    """A :class:`~tierconf.runtime.Watcher` over one published scope (see the module docstring).

    Constructed directly, it owns a watch stream of its own on ``client``.
    :func:`open_etcd_watcher` (what ``LiveConfig.from_etcd`` uses) instead joins the one
    stream this process keeps per cluster and scope, as etcd's Go client multiplexes
    watches: fifty LiveConfigs of one scope cost one stream, one mirror and one manifest
    check per release, and each still gets every release in order in its own queue.

    Args:
        client: the connection (closed by :meth:`close`).
        keys: the scope's keys (``AppKeys(prefix, app).live(tier, tenant)``).
        check_interval: seconds between watchdog probes of the stream's member.
        max_pending: releases kept for a runtime that falls behind; beyond, the oldest
            are dropped (``stats.skipped``) so memory stays bounded.
    """

    def __init__(
        self,
        client: EtcdClient,
        keys: LiveKeys,
        *,
        check_interval: float = 2.0,
        max_pending: int = 10_000,
    ) -> None:
        self._start(_Feed(client, keys, check_interval=check_interval), None, max_pending)

    def _start(self, feed: _Feed, shared_key: _FeedKey | None, max_pending: int) -> None:
        self._feed = feed
        self._shared_key = shared_key
        self.origin = feed.origin
        self._max_pending = max_pending
        self._changed = threading.Condition()
        self._pending: collections.deque[SourceData] = collections.deque()
        self._current: SourceData | None = None
        self._error: str | None = None
        self._generation = 0
        self._seen = 0
        self._closed = threading.Event()
        feed.join(self)

    def __repr__(self) -> str:
        return f"EtcdWatcher({self.origin!r})"

    @property
    def stats(self) -> WatcherStats:
        """The counters of the stream this watcher is fed by (shared when the stream is)."""
        return self._feed.stats

    # -- the Watcher protocol --------------------------------------------------------------

    def read(self) -> SourceData:
        """The next release not yet handed out, else the last one.

        Raises:
            SourceUnavailableError: nothing was published yet, or etcd is unreachable and
                no release is waiting (the runtime keeps its snapshot meanwhile).
        """
        with self._changed:
            if self._pending:
                self._current = self._pending.popleft()
                return self._current
            if self._error is not None:
                raise SourceUnavailableError(self._error)
            if self._current is None:
                raise SourceUnavailableError(
                    f"nothing is published at {self.origin} yet; publish it with "
                    f"`tierconf deploy --target {self._feed.cluster}`"
                )
            return self._current

    def wait(self, timeout: float) -> bool:
        """Block until a release is queued or the connection state changes (True), or
        ``timeout`` seconds pass or the watcher is closed (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._pending and self._seen == self._generation and not self._closed.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            if self._closed.is_set():
                return False
            self._seen = self._generation
            return True

    def close(self) -> None:
        """Stop watching and wake a blocked :meth:`wait`; the stream and its connection
        close with the last watcher fed by them. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._changed:
            self._changed.notify_all()
        if self._shared_key is None:
            self._feed.leave(self)
            self._feed.close()
            return
        with _shared_lock:
            last = self._feed.leave(self)
            if last and _shared_feeds.get(self._shared_key) is self._feed:
                del _shared_feeds[self._shared_key]
        if last:
            self._feed.close()

    # -- called by the feed ----------------------------------------------------------------

    def offer(self, data: SourceData) -> None:
        """Queue a complete release (the feed's thread)."""
        with self._changed:
            self._pending.append(data)
            if len(self._pending) > self._max_pending:
                self._pending.popleft()
                self._feed.stats.skipped += 1
            self._generation += 1
            self._changed.notify_all()

    def set_error(self, message: str | None) -> None:
        """Record the connection state (None: connected)."""
        with self._changed:
            if message != self._error:
                self._error = message
                self._generation += 1
                self._changed.notify_all()


def _shared_watcher(config: EtcdConfig, keys: LiveKeys, *, check_interval: float = 2.0) -> EtcdWatcher:
    """A watcher fed by this process's stream of (cluster, scope), opened on first use."""
    key: _FeedKey = (config, keys.prefix, check_interval)
    watcher = EtcdWatcher.__new__(EtcdWatcher)
    with _shared_lock:
        feed = _shared_feeds.get(key)
        if feed is not None:
            watcher._start(feed, key, 10_000)
            return watcher
    # Listing reads etcd, which may take up to the client's deadline: not under the lock.
    fresh = _Feed(EtcdClient(config), keys, check_interval=check_interval)
    with _shared_lock:
        feed = _shared_feeds.setdefault(key, fresh)
        watcher._start(feed, key, 10_000)
    if feed is not fresh:
        fresh.close()  # another thread opened the same stream meanwhile
    return watcher


def open_etcd_watcher(url: str, *, tier: str, tenant: str | None, app: str | None = None) -> EtcdWatcher:
    """The watcher of (app, tier, tenant) on the cluster an etcd URL names, fed by the
    watch stream this process shares for that cluster and scope (opened on first use,
    closed with its last watcher).

    ``app`` (else the URL's ``?app=``, else the project default) picks the key subtree.

    Raises:
        UsageError: the URL is malformed.
    """
    config = EtcdConfig.from_url(url)
    keys = AppKeys(config.prefix, app or config.app or default_app()).live(tier, tenant)
    return _shared_watcher(config, keys)
