"""``LiveConfig``: a typed configuration that follows its source without a restart.

One thread waits on the :class:`~tierconf.runtime.Watcher` and reloads; every reload reads
the whole source, compares its checksum with the snapshot in use, and only then parses,
validates (schema, rules) and swaps. The swap is one attribute assignment of an immutable
:class:`LiveState`, so readers take no lock and always get one whole version. A periodic
full re-read backs up the watcher (events can be lost: inotify queue overflow, a volume
remounted under us).

Rejected updates keep the last good snapshot; the reason is logged with secrets masked,
counted in metrics and shown by :meth:`LiveConfig.health`.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from tierconf.errors import ConfigError, InvalidConfigurationError, TierconfError
from tierconf.runtime._build import BuildTarget, Check, LiveState, ParseMemo, shared_builds
from tierconf.runtime._flags import LiveFlags
from tierconf.runtime._logging import configure_logging
from tierconf.runtime._metrics import NoMetrics, ReloadResult, RuntimeMetrics
from tierconf.runtime._notify import (
    AsyncWaiters,
    Callback,
    LiveConfigClosedError,
    Subscribers,
    Subscription,
    changed_paths,
    summarize,
)
from tierconf.runtime._source import SourceData, SourceUnavailableError, Watcher
from tierconf.schema._registry import registry
from tierconf.schema._root import TierConfig
from tierconf.schema._secret_ref import MASK
from tierconf.tiers import EnvironmentTier
from tierconf.tree import Silence

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

logger = logging.getLogger("tierconf.runtime")
#: Re-reads allowed to see a settled version of a non-atomic or shrinking source.
_CONFIRM_ATTEMPTS = 10


@dataclass(frozen=True)
class RuntimeOptions:
    """How a :class:`LiveConfig` watches, validates and reports (one frozen object).

    Attributes:
        poll_interval: Seconds between full re-reads that back up the watcher.
        step_ms: Quiet time before a burst of file events is handled (directory sources).
        settle: For sources that are not atomic (plain files edited in place), seconds to
            wait before re-reading an update that failed, in case it was half-written.
        rules: Validate with the rule engine too (errors reject, warnings are logged).
        silences: Reviewed rule exceptions (as in ``tierconf.yaml``).
        checks: More checks of your own: ``check(resolved) -> findings``.
        metrics: Export Prometheus metrics.
        registry: The prometheus_client registry (default: the global one).
        configure_logging: Apply LOG_LEVEL, LOG_FORMAT and rotation now and after every
            update that changes them (:func:`~tierconf.runtime.configure_logging`).
        require_initial: Raise from the constructor when the first read fails. With False
            the LiveConfig starts empty (not ready) and loads as soon as it can.
        plan: The tenant's plan (free, pro, enterprise), used by ``flags`` by default.
        stale_after: Seconds without a successful read of the source after which
            ``health().live`` is False (default: three poll intervals plus 5 s).
    """

    poll_interval: float = 10.0
    step_ms: int = 2
    settle: float = 0.1
    rules: bool = True
    silences: tuple[Silence, ...] = ()
    checks: tuple[Check, ...] = ()
    metrics: bool = True
    registry: CollectorRegistry | None = None
    configure_logging: bool = False
    require_initial: bool = True
    plan: str | None = None
    stale_after: float | None = None


@dataclass(frozen=True)
class Health:
    """What readiness and liveness probes need, in one immutable report.

    Attributes:
        loaded: A valid snapshot is in use.
        watching: The watch thread is running.
        revision: The revision in use (None before the first load).
        checksum: Its checksum.
        age_seconds: Since the snapshot in use was applied.
        last_read_seconds_ago: Since the source was last read successfully.
        last_error: Why the last reload failed (masked), None once one succeeds.
        last_error_at: Unix time of ``last_error``.
        applied: Updates applied since start (the first load included).
        rejected: Updates rejected since start.
        stale_after: The liveness threshold on ``last_read_seconds_ago``.
        origin: Where the configuration is read from.
    """

    loaded: bool
    watching: bool
    revision: str | None
    checksum: str | None
    age_seconds: float | None
    last_read_seconds_ago: float | None
    last_error: str | None
    last_error_at: float | None
    applied: int
    rejected: int
    stale_after: float
    origin: str

    @property
    def ready(self) -> bool:
        """Serve traffic: a valid snapshot is loaded."""
        return self.loaded

    @property
    def live(self) -> bool:
        """Keep running: the watcher runs and the source was read recently."""
        recent = self.last_read_seconds_ago is not None and self.last_read_seconds_ago <= self.stale_after
        return self.watching and (recent or not self.loaded)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for ``/healthz``)."""
        return {
            "ready": self.ready,
            "live": self.live,
            "loaded": self.loaded,
            "watching": self.watching,
            "revision": self.revision,
            "checksum": self.checksum,
            "age_seconds": _round(self.age_seconds),
            "last_read_seconds_ago": _round(self.last_read_seconds_ago),
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "applied": self.applied,
            "rejected": self.rejected,
            "origin": self.origin,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass
class _Status:
    """Mutable bookkeeping of the reload thread (never read on the snapshot path)."""

    last_read: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    applied: int = 0
    rejected: int = 0
    rejected_checksum: str | None = None
    unavailable: str | None = None
    rejected_error: InvalidConfigurationError | None = None


class LiveConfig:
    """A configuration snapshot that follows its source (CONTRACT.md, "Runtime API").

    Build it with :meth:`from_directory` (a kubelet-projected volume) or pass any
    :class:`~tierconf.runtime.Watcher` (``InMemoryWatcher`` in tests)::

        with LiveConfig.from_directory("/etc/config", environment="production") as live:
            pool = live.snapshot().database.postgres.pool_size
            live.subscribe(on_limits, path="security.rate_limit")

    Raises (constructor, unless ``require_initial=False``):
        SourceUnavailableError: the source cannot be read.
        InvalidConfigurationError: its content is not a valid configuration.
    """

    def __init__(
        self,
        watcher: Watcher,
        *,
        environment: str | EnvironmentTier,
        tenant: str | None = None,
        options: RuntimeOptions | None = None,
    ) -> None:
        self.options = options or RuntimeOptions()
        self.environment = EnvironmentTier.parse(environment)
        self.tenant = tenant
        self._watcher = watcher
        self._target = BuildTarget(
            self.environment, tenant, self.options.rules, self.options.silences, self.options.checks
        )
        self._state: LiveState | None = None
        self._origin = str(getattr(watcher, "origin", None) or watcher)
        self._status = _Status()
        self._reload_lock = threading.Lock()
        self._memo: ParseMemo = {}
        self._closed = threading.Event()
        self._metrics: RuntimeMetrics | NoMetrics = (
            RuntimeMetrics(self.environment.value, tenant, self.options.registry)
            if self.options.metrics
            else NoMetrics()
        )
        self._waiters = AsyncWaiters()
        self.flags = LiveFlags(self)
        """Feature flags of the snapshot in use: ``live.flags.is_enabled(name, tenant=, user=)``."""
        self._reload("initial")
        if self._state is None and self.options.require_initial:
            watcher.close()
            raise self._status_error()
        self._subscribers = Subscribers(self._subscriber_failed)
        self._thread = threading.Thread(target=self._watch, name="tierconf-live-watch", daemon=True)
        self._thread.start()

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def from_directory(
        cls,
        path: str | Path,
        *,
        environment: str | EnvironmentTier,
        tenant: str | None = None,
        options: RuntimeOptions | None = None,
    ) -> LiveConfig:
        """Follow a directory of one file per KEY: a kubelet-projected ConfigMap/Secret
        volume (``..data`` swaps) or plain files, as ``tierconf generate --format volume``
        writes them.

        Raises:
            DependencyMissingError: watchfiles or prometheus-client is missing
                (``pip install 'tierconf[runtime]'``).
        """
        from tierconf.runtime._directory import DirectoryWatcher

        watcher = DirectoryWatcher(path, step_ms=(options or RuntimeOptions()).step_ms)
        try:
            return cls(watcher, environment=environment, tenant=tenant, options=options)
        except BaseException:
            watcher.close()
            raise

    @classmethod
    def from_etcd(
        cls,
        url: str,
        *,
        environment: str | EnvironmentTier,
        tenant: str | None = None,
        options: RuntimeOptions | None = None,
        app: str | None = None,
    ) -> LiveConfig:
        """Follow a configuration published to etcd (``deploy --target etcd://``).

        ``url`` is ``http://HOST:PORT`` or ``etcd://HOST:PORT[,HOST:PORT...]`` (``https://``
        or ``etcds://`` for TLS, with ``?ca=&cert=&key=&user=&password_env=``, see
        :class:`tierconf.etcd.EtcdConfig`). ``app`` (else ``?app=``, else the project
        default) names the application the release was published for. Every published
        release is applied in order, each only once it is complete; after a disconnect the
        watch resumes where it stopped (:class:`tierconf.etcd.EtcdWatcher`).

        Raises:
            UsageError: the URL is malformed.
            SourceUnavailableError: nothing is published there yet, or etcd cannot be read.
        """
        from tierconf.etcd._watch import open_etcd_watcher

        tier = EnvironmentTier.parse(environment)
        watcher = open_etcd_watcher(url, tier=tier.value, tenant=tenant, app=app)
        try:
            return cls(watcher, environment=tier, tenant=tenant, options=options)
        except BaseException:
            watcher.close()
            raise

    # -- the read path (lock-free) ---------------------------------------------------------

    def snapshot(self) -> TierConfig:
        """The immutable typed configuration in use. Never blocks.

        Raises:
            TierconfError: nothing has loaded yet (only with ``require_initial=False``).
        """
        state = self._state
        if state is None:
            raise TierconfError(f"no configuration loaded yet from {self._origin}: {self._status.last_error}")
        return state.config

    def state(self) -> LiveState:
        """The snapshot with its revision, checksum and secrets, as one consistent object."""
        state = self._state
        if state is None:
            raise TierconfError(f"no configuration loaded yet from {self._origin}: {self._status.last_error}")
        return state

    @property
    def revision(self) -> str:
        """Id of the snapshot in use: the source's revision or a content hash."""
        return self.state().revision

    @property
    def checksum(self) -> str:
        """``sha256:...`` of the content in use (secrets fingerprinted)."""
        return self.state().checksum

    def secret(self, key: str) -> str:
        """The value of secret KEY in use (``live.secret("JWT_SECRET_KEY")``). Never logged."""
        return self.state().secret(key)

    # -- subscriptions and async ------------------------------------------------------------

    def subscribe(self, callback: Callback, path: str | None = None) -> Subscription:
        """Call ``callback(old, new)`` after each applied update that changes something
        under ``path`` (a dotted path, a group, a KEY, ``flags.<name>``; None or "": anything).

        Callbacks run on one worker thread, after the swap; exceptions are logged and
        counted, never propagated.

        Raises:
            SchemaError: ``path`` names no setting or group.
        """
        return self._subscribers.add(callback, path)

    async def changed(self) -> TierConfig:
        """Wait for the next applied update and return its snapshot.

        Raises:
            LiveConfigClosedError: the LiveConfig was closed meanwhile.
        """
        if self._closed.is_set():
            raise LiveConfigClosedError("LiveConfig is closed")
        start = self._state
        return await self._waiters.wait(lambda: self._newer_than(start))

    async def updates(self) -> AsyncIterator[TierConfig]:
        """The snapshot in use, then each applied update; ends when closed.

        A slow consumer skips intermediate versions but always gets the latest one.
        """
        seen: LiveState | None = None
        while True:
            state = self._state
            if state is not None and state is not seen:
                seen = state
                yield state.config
                continue
            if self._closed.is_set():
                return
            try:
                await self._waiters.wait(partial(self._newer_than, seen))
            except LiveConfigClosedError:
                return

    def _newer_than(self, state: LiveState | None) -> TierConfig | None:
        if self._closed.is_set():
            raise LiveConfigClosedError("LiveConfig is closed")
        current = self._state
        return current.config if current is not None and current is not state else None

    # -- health and lifecycle --------------------------------------------------------------

    def health(self) -> Health:
        """Readiness (loaded) and liveness (watching, read recently) in one report."""
        now = time.time()
        state = self._state
        status = self._status
        options = self.options
        return Health(
            loaded=state is not None and not self._closed.is_set(),
            watching=self._thread.is_alive() and not self._closed.is_set(),
            revision=state.revision if state else None,
            checksum=state.checksum if state else None,
            age_seconds=now - state.applied_at if state else None,
            last_read_seconds_ago=now - status.last_read if status.last_read is not None else None,
            last_error=status.last_error,
            last_error_at=status.last_error_at,
            applied=status.applied,
            rejected=status.rejected,
            stale_after=options.stale_after or 3 * options.poll_interval + 5,
            origin=self._origin,
        )

    def reload(self) -> ReloadResult:
        """Re-read the source now (as on SIGHUP); returns what happened."""
        return self._reload("manual")

    def close(self) -> None:
        """Stop watching; pending ``changed()`` waits raise, ``updates()`` ends. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._watcher.close()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        self._subscribers.close()
        self._waiters.wake(None, LiveConfigClosedError("LiveConfig is closed"))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = self._state
        revision = state.revision if state else "none"
        return f"LiveConfig({self._origin}, {self.environment.value}, revision={revision})"

    # -- masking ---------------------------------------------------------------------------

    def redact(self, text: str, extra: Sequence[str] = ()) -> str:
        """Mask every secret value in use (and ``extra`` ones) in ``text``."""
        state = self._state
        values = [*(state.secrets.values() if state else ()), *extra]
        for value in sorted({v for v in values if len(v) >= 4}, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    # -- the reload thread -----------------------------------------------------------------

    def _watch(self) -> None:
        while not self._closed.is_set():
            try:
                changed = self._watcher.wait(self.options.poll_interval)
                if self._closed.is_set():
                    return
                self._reload("event" if changed else "poll")
            except Exception:  # the thread must survive anything; health shows it
                logger.exception("configuration watch loop failed; retrying")
                self._closed.wait(1.0)

    def _reload(self, trigger: str) -> ReloadResult:
        with self._reload_lock:
            started = time.perf_counter()
            result = self._reload_locked(trigger)
            self._metrics.reloaded(result, time.perf_counter() - started)
            return result

    def _read(self) -> SourceData | None:
        try:
            data = self._watcher.read()
        except SourceUnavailableError as exc:
            message = self.redact(str(exc))
            if self._status.unavailable != message:  # once per distinct problem, not per poll
                logger.warning(
                    "configuration source unavailable: %s; keeping revision %s",
                    message,
                    self._state.revision if self._state else "none",
                )
            self._status.unavailable = message
            self._failed(message)
            return None
        self._origin = data.origin
        self._status.unavailable = None
        self._status.last_read = time.time()
        return data

    def _reload_locked(self, trigger: str) -> ReloadResult:
        data = self._read()
        attempts = 0
        while data is not None:
            reg = registry()
            secret_keys = [key for key in data.files if key in reg.by_key and reg.by_key[key].secret]
            checksum = shared_builds.checksum(data.files, secret_keys)
            current = self._state
            same_revision = data.revision in (None, current.revision) if current else False
            if current is not None and checksum == current.checksum and same_revision:
                return "unchanged"
            if checksum == self._status.rejected_checksum:
                return "unchanged"  # already rejected and logged; wait for new content
            try:
                candidate = self._build(data, checksum)
            except InvalidConfigurationError as exc:
                # Plain files may have been caught half-written: judge them only once they
                # read the same twice. A kubelet or etcd version is whole: judge it now.
                if not data.atomic and attempts < _CONFIRM_ATTEMPTS:
                    attempts += 1
                    again = self._read_again()
                    if again is None or again.files != data.files:
                        data = again
                        continue
                self._reject(exc, data, checksum, secret_keys)
                return "rejected"
            if data.revision is None and current is not None and current.keys - candidate.keys:
                # KEYs vanished: a ConfigMap key was deleted, or the volume is being torn
                # down file by file (missing KEYs would silently become defaults). Apply
                # only content that reads the same twice. (A source with revisions of its
                # own, like etcd, publishes whole releases: a removal there is deliberate.)
                if attempts >= _CONFIRM_ATTEMPTS:
                    return "unavailable"
                attempts += 1
                again = self._read_again()
                if again is None or again.files != data.files:
                    data = again
                    continue
            self._apply(replace(candidate, applied_at=time.time()), trigger)
            return "applied"
        return "unavailable"

    def _build(self, data: SourceData, checksum: str) -> LiveState:
        try:
            return shared_builds.build(
                data.files,
                data.origin,
                self._target,
                revision=data.revision,
                checksum=checksum,
                memo=self._memo,
            )
        except InvalidConfigurationError:
            raise
        except Exception as exc:
            # A failing rule or check of your own: never apply what could not be validated.
            logger.exception("validating the configuration from %s failed", data.origin)
            problem = ConfigError(f"validation failed unexpectedly: {type(exc).__name__}: {exc}")
            raise InvalidConfigurationError((problem,)) from exc

    def _read_again(self) -> SourceData | None:
        if self._closed.wait(self.options.settle):
            return None
        return self._read()

    def _apply(self, new: LiveState, trigger: str) -> None:
        old = self._state
        self._state = new  # the swap: one assignment, readers see old or new, never a mix
        status = self._status
        status.applied += 1
        status.last_error = None
        status.rejected_checksum = None
        self._metrics.applied(new.revision, new.checksum, new.applied_at)
        if self.options.configure_logging and (old is None or _logging_changed(old.config, new.config)):
            try:
                configure_logging(new.config, redact=self.redact)
            except Exception:  # a bad log file path must not stop the update
                logger.exception("could not apply the logging settings of revision %s", new.revision)
        if old is None:
            logger.info("configuration revision %s loaded from %s", new.revision, new.origin)
        else:
            changed = changed_paths(old, new)
            logger.info(
                "configuration revision %s applied from %s (was %s, %s): changed %s",
                new.revision,
                new.origin,
                old.revision,
                trigger,
                summarize(changed) or "nothing typed",
            )
            self._subscribers.publish(old, new, changed)
        self._waiters.wake(new.config)
        for finding in new.warnings:
            if finding.severity == "warning":
                logger.warning(
                    "configuration %s: [%s] %s", new.revision, finding.code, self.redact(finding.message)
                )
        if new.unknown_keys:
            logger.warning(
                "configuration %s: ignored %d KEYs that no setting owns: %s",
                new.revision,
                len(new.unknown_keys),
                ", ".join(new.unknown_keys[:12]),
            )

    def _reject(
        self, exc: InvalidConfigurationError, data: SourceData, checksum: str, secret_keys: Sequence[str]
    ) -> None:
        candidate_secrets = [data.files[key].decode("utf-8", "replace") for key in secret_keys]
        problems = [self.redact(str(problem), candidate_secrets) for problem in exc.problems]
        kept = self._state.revision if self._state else "none"
        message = "; ".join(problems)
        logger.error(
            "configuration update from %s rejected (%d problem%s), keeping revision %s: %s",
            data.origin,
            len(problems),
            "" if len(problems) == 1 else "s",
            kept,
            message,
        )
        self._status.rejected += 1
        self._status.rejected_checksum = checksum
        self._status.rejected_error = exc
        self._failed(message)

    def _failed(self, message: str) -> None:
        self._status.last_error = message
        self._status.last_error_at = time.time()

    def _status_error(self) -> TierconfError:
        if self._status.rejected_error is not None:
            return self._status.rejected_error
        return SourceUnavailableError(self._status.last_error or f"cannot read {self._origin}")

    def _subscriber_failed(self, subscription: Subscription, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        logger.error(
            "configuration subscriber %r failed%s: %s: %s",
            subscription,
            where,
            type(exc).__name__,
            self.redact(str(exc)),
        )
        self._metrics.subscriber_failed()


def _logging_changed(old: TierConfig, new: TierConfig) -> bool:
    return (
        old.application.log_level != new.application.log_level
        or old.monitoring.logging != new.monitoring.logging
    )
