"""Subscriptions (path-filtered callbacks on a worker thread) and the async API."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from tierconf.errors import SchemaError
from tierconf.runtime import InMemoryWatcher, LiveConfig, LiveConfigClosedError, RuntimeOptions
from tierconf.schema import TierConfig

from .conftest import Files, sample, wait_for

Calls = list[tuple[TierConfig, TierConfig]]


@pytest.fixture
def setup(dev_files: Files, options: RuntimeOptions) -> tuple[InMemoryWatcher, LiveConfig]:
    """An in-memory source and a LiveConfig on it (closed by the test's `with`)."""
    source = InMemoryWatcher(dev_files)
    return source, LiveConfig(source, environment="development", options=options)


def recorder(calls: Calls) -> Callable[[TierConfig, TierConfig], None]:
    """A callback appending (old, new) to ``calls``."""

    def record(old: TierConfig, new: TierConfig) -> None:
        calls.append((old, new))

    return record


class TestSubscribe:
    """subscribe(callback, path) calls back only for changes under path."""

    def test_called_with_old_and_new(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """The callback gets the replaced and the new snapshot."""
        source, live = setup
        calls: Calls = []
        with live:
            live.subscribe(recorder(calls), path="security.rate_limit")
            source.update(RATE_LIMIT_REQUESTS="5")
            wait_for(lambda: calls, what="callback")
            old, new = calls[0]
            assert old.security.rate_limit.requests == 1000 and new.security.rate_limit.requests == 5

    def test_not_called_for_other_paths(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """A change elsewhere does not call a path-filtered callback."""
        source, live = setup
        limits: Calls = []
        everything: Calls = []
        with live:
            live.subscribe(recorder(limits), path="security.rate_limit")
            live.subscribe(recorder(everything))
            source.update(DB_POOL_SIZE="7")
            wait_for(lambda: everything, what="catch-all callback")
            source.update(RATE_LIMIT_WINDOW="30")
            wait_for(lambda: len(everything) == 2, what="second update")
            assert len(limits) == 1 and limits[0][1].security.rate_limit.window == 30

    def test_called_after_the_swap(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """Inside the callback, live.snapshot() already returns the new snapshot."""
        source, live = setup
        seen: list[bool] = []
        with live:
            live.subscribe(lambda old, new: seen.append(live.snapshot() is new), path="RATE_LIMIT_REQUESTS")
            source.update(RATE_LIMIT_REQUESTS="6")
            wait_for(lambda: seen, what="callback")
            assert seen == [True]

    def test_runs_on_a_worker_thread(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """Callbacks never run on the caller's or the watcher's thread."""
        source, live = setup
        threads: list[str] = []
        with live:
            live.subscribe(lambda old, new: threads.append(threading.current_thread().name))
            source.update(RATE_LIMIT_REQUESTS="6")
            wait_for(lambda: threads, what="callback")
            assert threads == ["tierconf-live-notify"]

    def test_secret_rotation_notifies_its_path(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """A new secret value is a change under its path, though the SecretRef is equal."""
        source, live = setup
        calls: Calls = []
        with live:
            live.subscribe(recorder(calls), path="security.jwt")
            source.update(JWT_SECRET_KEY="new-" + "q" * 90)
            wait_for(lambda: calls, what="callback")

    def test_flag_paths(self, setup: tuple[InMemoryWatcher, LiveConfig], dev_files: Files) -> None:
        """flags.<name> and flags.<name>.<field> subscriptions see flag changes."""
        source, live = setup
        flag_calls: Calls = []
        field_calls: Calls = []
        other_calls: Calls = []
        with live:
            live.subscribe(recorder(other_calls), path="flags.real_time")
            live.subscribe(recorder(flag_calls), path="flags.analytics")
            live.subscribe(recorder(field_calls), path="flags.analytics.enabled")
            text = dev_files["FLAG_ANALYTICS"].decode().replace('"enabled":true', '"enabled":false')
            source.update(FLAG_ANALYTICS=text)
            wait_for(lambda: flag_calls and field_calls, what="flag callbacks")
            assert other_calls == []  # subscribed first, so already skipped by now

    def test_failing_callback_is_isolated(
        self,
        setup: tuple[InMemoryWatcher, LiveConfig],
        metrics: CollectorRegistry,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A callback that raises is logged and counted; the others still run."""
        source, live = setup
        calls: Calls = []

        def broken(old: TierConfig, new: TierConfig) -> None:
            raise RuntimeError("subscriber bug")

        with live, caplog.at_level(logging.ERROR, "tierconf.runtime"):
            live.subscribe(broken)
            live.subscribe(recorder(calls))
            source.update(RATE_LIMIT_REQUESTS="5")
            wait_for(lambda: calls, what="second callback")
            wait_for(lambda: sample(metrics, "tierconf_config_subscriber_errors_total") == 1)
            assert "subscriber bug" in caplog.text and live.snapshot().security.rate_limit.requests == 5

    def test_cancel_stops_calls(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """After cancel(), the callback is not called again."""
        source, live = setup
        calls: Calls = []
        marker: Calls = []
        with live:
            live.subscribe(recorder(calls)).cancel()
            live.subscribe(recorder(marker))
            source.update(RATE_LIMIT_REQUESTS="5")
            wait_for(lambda: marker, what="marker callback")
            assert calls == []

    def test_unknown_path_is_refused(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """A typo in the path fails at subscribe time, with a suggestion."""
        _, live = setup
        with live, pytest.raises(SchemaError, match=r"did you mean 'security\.rate_limit'"):
            live.subscribe(lambda old, new: None, path="security.rate_limt")

    def test_key_is_accepted_as_path(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """A flat KEY subscribes to its setting's path."""
        _, live = setup
        with live:
            assert live.subscribe(lambda old, new: None, path="RATE_LIMIT_REQUESTS").path == (
                "security.rate_limit.requests"
            )


class TestAsync:
    """await live.changed() and async for snap in live.updates()."""

    def test_changed_returns_the_next_snapshot(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """changed() resolves with the snapshot of the next applied update."""
        source, live = setup

        async def scenario() -> TierConfig:
            waiter = asyncio.ensure_future(live.changed())
            await asyncio.sleep(0.01)
            source.update(RATE_LIMIT_REQUESTS="5")
            return await asyncio.wait_for(waiter, 15)

        with live:
            snap = asyncio.run(scenario())
            assert snap.security.rate_limit.requests == 5

    def test_updates_yields_current_then_each_change(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """updates() starts with the snapshot in use, then follows the source."""
        source, live = setup

        async def scenario() -> list[int]:
            seen: list[int] = []
            async for snap in live.updates():
                seen.append(snap.security.rate_limit.requests)
                if len(seen) == 3:
                    break
                source.update(RATE_LIMIT_REQUESTS=str(len(seen) + 1))
            return seen

        with live:
            assert asyncio.run(asyncio.wait_for(scenario(), 15)) == [1000, 2, 3]

    def test_close_ends_updates_and_fails_changed(self, setup: tuple[InMemoryWatcher, LiveConfig]) -> None:
        """Closing the LiveConfig ends updates() and makes changed() raise."""
        _, live = setup

        async def scenario() -> tuple[int, bool]:
            waiter = asyncio.ensure_future(live.changed())
            count = 0

            async def consume() -> None:
                nonlocal count
                async for _ in live.updates():
                    count += 1

            consumer = asyncio.ensure_future(consume())
            await asyncio.sleep(0.01)
            live.close()
            await asyncio.wait_for(consumer, 15)
            try:
                await asyncio.wait_for(waiter, 15)
            except LiveConfigClosedError:
                return count, True
            return count, False

        assert asyncio.run(scenario()) == (1, True)


class TestOptions:
    """RuntimeOptions turn features off."""

    def test_metrics_can_be_disabled(self, dev_files: Files) -> None:
        """metrics=False registers nothing."""
        registry = CollectorRegistry()
        source = InMemoryWatcher(dev_files)
        options = RuntimeOptions(metrics=False, registry=registry)
        with LiveConfig(source, environment="dev", options=options):
            assert registry.get_sample_value("tierconf_config_reloads_total", {}) is None
            assert list(registry.collect()) == []

    def test_two_live_configs_share_one_registry(self, dev_files: Files, metrics: CollectorRegistry) -> None:
        """Metrics are registered once per registry; labels keep tiers apart."""
        options = RuntimeOptions(registry=metrics)
        with (
            LiveConfig(InMemoryWatcher(dev_files), environment="dev", options=options),
            LiveConfig(InMemoryWatcher(dev_files), environment="dev", tenant="acme", options=options),
        ):
            assert sample(metrics, "tierconf_config_reloads_total", result="applied") == 1
            assert sample(metrics, "tierconf_config_reloads_total", result="applied", tenant="acme") == 1
