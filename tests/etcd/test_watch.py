"""LiveConfig.from_etcd: load, follow every release in order, reject invalid ones, resume."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tierconf.errors import InvalidConfigurationError
from tierconf.etcd import EtcdClient, EtcdConfig, EtcdWatcher
from tierconf.etcd._keys import AppKeys
from tierconf.etcd._watch import open_etcd_watcher
from tierconf.findings import Finding
from tierconf.pipeline import ResolvedConfig
from tierconf.runtime import LiveConfig, SourceUnavailableError
from tierconf.schema import TierConfig
from tierconf.targets import DesiredState, open_target

from .conftest import APP, etcd_url, release_n, runtime_options, wait_for, with_values


def follow(live: LiveConfig) -> list[int]:
    """Record the release number of every snapshot the LiveConfig swaps in, in order."""
    applied: list[int] = []

    def record(old: TierConfig, new: TierConfig) -> None:
        applied.append(new.security.rate_limit.requests - 1000)

    live.subscribe(record, path="security.rate_limit.requests")
    return applied


class TestFollowing:
    def test_loads_then_applies_every_release_in_order(
        self, etcd_server, prefix: str, dev_desired: DesiredState
    ) -> None:
        """The first snapshot is the published release; each later one is applied, in order."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, dev_desired.scope)
        target.apply(target.plan(release_n(dev_desired, 1)))
        with LiveConfig.from_etcd(url, environment="development", options=runtime_options()) as live:
            assert live.revision == "1"
            assert live.snapshot().security.rate_limit.requests == 1001
            applied = follow(live)
            for n in range(2, 21):
                target.apply(target.plan(release_n(dev_desired, n)))
            wait_for(lambda: len(applied) == 19, what="19 releases applied")
            assert applied == list(range(2, 21))
            assert live.revision == "20"
        target.close()

    def test_contract_spelling_with_http_url(
        self, etcd_server, prefix: str, dev_desired: DesiredState
    ) -> None:
        """LiveConfig.from_etcd("http://HOST:PORT", environment=..., tenant=None) works as shown."""
        target = open_target(etcd_url([etcd_server.endpoint], prefix), dev_desired.scope)
        target.apply(target.plan(release_n(dev_desired, 1)))
        url = f"{etcd_server.endpoint}?prefix={prefix}"
        with LiveConfig.from_etcd(url, environment="dev", tenant=None, options=runtime_options()) as live:
            assert live.snapshot().application.environment == "development"
        target.close()

    def test_invalid_release_is_rejected_and_the_next_applied(
        self, etcd_server, prefix: str, dev_desired: DesiredState
    ) -> None:
        """A release that fails validation keeps the old snapshot; the next valid one applies."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, dev_desired.scope)
        target.apply(target.plan(release_n(dev_desired, 1)))
        with LiveConfig.from_etcd(url, environment="development", options=runtime_options()) as live:
            target.apply(target.plan(with_values(dev_desired, 2, RATE_LIMIT_REQUESTS="many")))
            wait_for(lambda: live.health().rejected == 1, what="the rejection")
            assert live.revision == "1"
            target.apply(target.plan(release_n(dev_desired, 3)))
            wait_for(lambda: live.revision == "3", what="release 3")
        target.close()

    def test_nothing_published(self, etcd_server, prefix: str) -> None:
        """from_etcd on a scope never published raises SourceUnavailableError saying so."""
        url = etcd_url([etcd_server.endpoint], prefix)
        with pytest.raises(SourceUnavailableError, match="nothing is published"):
            LiveConfig.from_etcd(url, environment="development", options=runtime_options())

    def test_invalid_first_release(self, etcd_server, prefix: str, dev_desired: DesiredState) -> None:
        """A first release that fails validation makes from_etcd raise, as for any source."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, dev_desired.scope)
        target.apply(target.plan(with_values(dev_desired, 1, RATE_LIMIT_REQUESTS="many")))
        with pytest.raises(InvalidConfigurationError, match="RATE_LIMIT_REQUESTS"):
            LiveConfig.from_etcd(url, environment="development", options=runtime_options())
        target.close()


class TestResume:
    def test_resumes_after_its_member_restarts(
        self, etcd_cluster_factory, prefix: str, dev_desired: DesiredState
    ) -> None:
        """A watcher whose only member is down misses nothing: it replays from the last
        revision it saw, every release in order."""
        cluster = etcd_cluster_factory(size=3)
        writer_url = etcd_url(cluster.endpoints[1:], prefix)
        target = open_target(writer_url, dev_desired.scope)
        target.apply(target.plan(release_n(dev_desired, 1)))
        reader_url = etcd_url(cluster.endpoints[:1], prefix, timeout="1")
        options = runtime_options(0.5)
        with LiveConfig.from_etcd(reader_url, environment="development", options=options) as live:
            applied = follow(live)
            cluster.members[0].stop()
            for n in range(2, 8):
                target.apply(target.plan(release_n(dev_desired, n)))
            cluster.restart_member(0)
            wait_for(lambda: live.revision == "7", what="release 7 after the restart")
            wait_for(lambda: len(applied) == 6, what="every release applied")
            assert applied == [2, 3, 4, 5, 6, 7]
        target.close()

    def test_compaction_during_a_disconnect_rereads(
        self, etcd_cluster_factory, prefix: str, dev_desired: DesiredState
    ) -> None:
        """When the resume revision was compacted meanwhile, the watcher re-reads the
        prefix and continues from the current release."""
        cluster = etcd_cluster_factory(size=3)
        writer_url = etcd_url(cluster.endpoints[1:], prefix)
        target = open_target(writer_url, dev_desired.scope)
        target.apply(target.plan(release_n(dev_desired, 1)))
        config = EtcdConfig.from_url(etcd_url(cluster.endpoints[:1], prefix, timeout="1"))
        watcher = EtcdWatcher(EtcdClient(config), AppKeys(prefix, APP).live("development", None))
        with LiveConfig(watcher, environment="development", options=runtime_options(0.5)) as live:
            cluster.members[0].stop()
            for n in range(2, 6):
                target.apply(target.plan(release_n(dev_desired, n)))
            admin = EtcdClient(EtcdConfig.from_url(writer_url))
            admin.compact(int(admin.status()["header"]["revision"]))
            admin.close()
            cluster.restart_member(0)
            wait_for(lambda: live.revision == "5", what="the current release after the re-read")
            assert watcher.stats.resyncs >= 1
            target.apply(target.plan(release_n(dev_desired, 6)))
            wait_for(lambda: live.revision == "6", what="the next release, watched again")
        target.close()


class TestSharedStream:
    def test_live_configs_of_one_scope_share_one_stream(
        self, etcd_server, prefix: str, dev_desired: DesiredState
    ) -> None:
        """LiveConfigs of one cluster and scope in a process share one watch stream (as
        etcd's Go client multiplexes watches); each still applies every release in order,
        one joining late starts from the release in use, and closing one leaves the others
        following. Another scope gets a stream of its own."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, dev_desired.scope)
        target.apply(target.plan(release_n(dev_desired, 1)))
        first = LiveConfig.from_etcd(url, environment="development", options=runtime_options())
        second = LiveConfig.from_etcd(url, environment="development", options=runtime_options())
        other_scope = open_etcd_watcher(url, tier="development", tenant="acme")
        try:
            assert first._watcher.stats is second._watcher.stats  # type: ignore[attr-defined]
            assert other_scope.stats is not first._watcher.stats  # type: ignore[attr-defined]
            seen_first, seen_second = follow(first), follow(second)
            for n in range(2, 6):
                target.apply(target.plan(release_n(dev_desired, n)))
            wait_for(lambda: len(seen_first) == 4 and len(seen_second) == 4, what="4 releases applied")
            late = LiveConfig.from_etcd(url, environment="development", options=runtime_options())
            assert late.revision == "5"
            first.close()
            seen_late = follow(late)
            for n in range(6, 9):
                target.apply(target.plan(release_n(dev_desired, n)))
            wait_for(lambda: len(seen_second) == 7 and len(seen_late) == 3, what="3 more releases")
            assert seen_first == [2, 3, 4, 5]
            assert seen_second == list(range(2, 9))
            assert seen_late == [6, 7, 8]
            assert second._watcher.stats.delivered == 8  # type: ignore[attr-defined]
            late.close()
            second.close()
            # The last one closed the stream: a new LiveConfig opens a fresh one.
            with LiveConfig.from_etcd(url, environment="development", options=runtime_options()) as again:
                assert again.revision == "8"
                assert again._watcher.stats.delivered == 1  # type: ignore[attr-defined]
        finally:
            for live in (first, second):
                live.close()
            other_scope.close()
            target.close()

    def test_identical_releases_are_validated_once_per_process(
        self, etcd_server, prefix: str, dev_desired: DesiredState
    ) -> None:
        """Runtimes that receive the same release share one validated state; each still
        holds its own (applied_at), and every one of them runs its subscribers."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, dev_desired.scope)
        target.apply(target.plan(release_n(dev_desired, 1)))
        builds: list[str] = []

        def counting(resolved: ResolvedConfig) -> list[Finding]:
            builds.append(str(resolved.config.security.rate_limit.requests))
            return []

        options = [replace(runtime_options(), checks=(counting,)) for _ in range(4)]
        lives = [LiveConfig.from_etcd(url, environment="development", options=o) for o in options]
        try:
            applied = [follow(live) for live in lives]
            target.apply(target.plan(release_n(dev_desired, 2)))
            wait_for(lambda: all(a == [2] for a in applied), what="release 2 everywhere")
            assert builds == ["1001", "1002"]
            assert len({id(live.snapshot()) for live in lives}) == 1
        finally:
            for live in lives:
                live.close()
            target.close()

    def test_a_forked_child_opens_its_own_stream(
        self, etcd_server, prefix: str, dev_desired: DesiredState
    ) -> None:
        """A worker forked from a process that already follows the scope (gunicorn
        --preload) gets a stream of its own, not the parent's thread-less one: it follows
        releases published after the fork."""
        import multiprocessing

        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, dev_desired.scope)
        target.apply(target.plan(release_n(dev_desired, 1)))
        parent = LiveConfig.from_etcd(url, environment="development", options=runtime_options())
        context = multiprocessing.get_context("fork")
        ready, outcome = context.Queue(), context.Queue()
        child = context.Process(target=_follow_in_child, args=(url, ready, outcome))
        try:
            child.start()
            assert ready.get(timeout=WAIT_CHILD) == "1"
            target.apply(target.plan(release_n(dev_desired, 2)))
            assert outcome.get(timeout=WAIT_CHILD) == "2"
            wait_for(lambda: parent.revision == "2", what="the parent to follow too")
        finally:
            child.join(WAIT_CHILD)
            parent.close()
            target.close()
            for queue in (ready, outcome):
                queue.close()
                queue.join_thread()


WAIT_CHILD = 30.0


def _follow_in_child(url: str, ready: object, outcome: object) -> None:
    """In a forked child: open the scope, report its revision, wait for the next release."""
    import time

    with LiveConfig.from_etcd(url, environment="development", options=runtime_options()) as live:
        ready.put(live.revision)  # type: ignore[attr-defined]
        deadline = time.monotonic() + WAIT_CHILD
        while live.revision == "1" and time.monotonic() < deadline:
            time.sleep(0.02)
        outcome.put(live.revision)  # type: ignore[attr-defined]
