"""Faults on a real 3-member cluster: the leader SIGKILLed mid-run, a member frozen (a
network cut: its process stopped), and what releasers and watchers do meanwhile.

The default run keeps to the issue's shape at a smaller scale (>= 50 releases, >= 10
watchers); ``TIERCONF_SOAK=1`` runs the full 200 releases and 20 watchers.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator, Sequence

from tests.store.test_contract import make_content

from tierconf.etcd import EtcdClient, EtcdConfig, EtcdWatcher
from tierconf.etcd._keys import AppKeys
from tierconf.runtime import LiveConfig
from tierconf.schema import TierConfig
from tierconf.store import (
    AuditRequest,
    ReleaseContent,
    Revision,
    RevisionStore,
    append_with_retry,
    open_store,
)
from tierconf.targets import DeployTarget, DesiredState, open_target

from .conftest import APP, SOAK, etcd_url, release_n, runtime_options, wait_for

RELEASES = 200 if SOAK else 60
WATCHERS = 20 if SOAK else 10
AUDIT = AuditRequest(actor="releaser", action="release", reason="fault test")


def rotated(endpoints: Sequence[str], start: int) -> list[str]:
    """The endpoints starting from ``start``: spreads watchers over the members."""
    return [endpoints[(start + i) % len(endpoints)] for i in range(len(endpoints))]


def release(store: RevisionStore, target: DeployTarget, desired: DesiredState) -> int:
    """Record one revision in the store, then publish it (as ``deploy`` does)."""

    def build(head: Revision | None) -> ReleaseContent:
        number = 1 if head is None else head.revision + 1
        return ReleaseContent(
            tier="development",
            tenant=None,
            checksum=f"sha256:fault-{number}",
            manifests=(),
            values={},
            findings={},
            author="releaser",
            message=f"release {number}",
            git_commit=None,
            tierconf_version="test",
        )

    revision = append_with_retry(store, "development", None, build, audit=AUDIT).revision
    target.apply(target.plan(release_n(desired, revision)))
    return revision


class Follower:
    """One LiveConfig and the release numbers it applied, in order.

    ``private``: on a watch stream of its own, as a pod has; otherwise on the stream this
    process shares per cluster URL and scope (what ``LiveConfig.from_etcd`` does).
    """

    def __init__(self, url: str, *, private: bool = False) -> None:
        options = runtime_options()
        if private:
            config = EtcdConfig.from_url(url)
            watcher = EtcdWatcher(EtcdClient(config), AppKeys(config.prefix, APP).live("development", None))
            self.live = LiveConfig(watcher, environment="development", options=options)
        else:
            self.live = LiveConfig.from_etcd(url, environment="development", options=options)
        self.first = int(self.live.revision)
        self.applied: list[int] = []
        self.live.subscribe(self._record, path="security.rate_limit.requests")

    def _record(self, old: TierConfig, new: TierConfig) -> None:
        self.applied.append(new.security.rate_limit.requests - 1000)


@contextlib.contextmanager
def followers(urls: Sequence[str]) -> Iterator[list[Follower]]:
    opened: list[Follower] = []
    try:
        for index, url in enumerate(urls):
            opened.append(Follower(url, private=index % 2 == 1))
        yield opened
    finally:
        for follower in opened:
            follower.live.close()


class TestLeaderKilled:
    def test_every_watcher_applies_every_release_in_order(
        self, etcd_cluster_factory, prefix: str, dev_desired: DesiredState
    ) -> None:
        """One releaser publishes in a loop while the leader is SIGKILLed and later
        restarted: every watcher ends on the last release and applied each one, in order
        (half of them on streams of their own, half on the streams this process shares)."""
        cluster = etcd_cluster_factory(size=3)
        url = etcd_url(cluster.endpoints, prefix, timeout="2")
        store = open_store(url)
        target = open_target(url, dev_desired.scope)
        assert release(store, target, dev_desired) == 1
        urls = [etcd_url(rotated(cluster.endpoints, i), prefix, timeout="2") for i in range(WATCHERS)]
        kill_at, restart_at = RELEASES // 3, 2 * RELEASES // 3
        killed: list[int] = []
        with followers(urls) as watching:
            for n in range(2, RELEASES + 1):
                if n == kill_at:
                    leader = cluster.leader()
                    killed.append(cluster.members.index(leader))
                    leader.kill()
                if n == restart_at:
                    cluster.restart_member(killed[0])
                assert release(store, target, dev_desired) == n
            for follower in watching:
                wait_for(lambda f=follower: f.live.revision == str(RELEASES), what="the last release")
                expected = list(range(follower.first + 1, RELEASES + 1))
                wait_for(lambda f=follower, e=expected: len(f.applied) >= len(e), what="every release")
                assert follower.applied == expected
        assert [r.revision for r in store.history("development", None)] == list(range(1, RELEASES + 1))
        assert store.verify_audit().ok
        store.close()
        target.close()


class TestNetworkCut:
    def test_quorum_keeps_serving_with_a_member_stopped(
        self, etcd_cluster_factory, prefix: str, dev_desired: DesiredState
    ) -> None:
        """With one member's process stopped (cut off), releases, reads and watches go on
        through the other two, even for clients that list the stopped member first."""
        cluster = etcd_cluster_factory(size=3)
        leader = cluster.leader()
        cut = next(i for i, m in enumerate(cluster.members) if m is not leader)
        cut_first = etcd_url(rotated(cluster.endpoints, cut), prefix, timeout="1")
        store = open_store(cut_first)
        target = open_target(cut_first, dev_desired.scope)
        assert release(store, target, dev_desired) == 1
        keys = AppKeys(prefix, APP).live("development", None)
        watcher = EtcdWatcher(EtcdClient(EtcdConfig.from_url(cut_first)), keys, check_interval=0.5)
        pid = cluster.members[cut]._proc.pid  # the harness keeps the process private
        with LiveConfig(watcher, environment="development", options=runtime_options()) as live:
            assert watcher.stats.endpoint == cluster.endpoints[cut] or watcher.stats.endpoint is None
            os.kill(pid, signal.SIGSTOP)
            try:
                for n in range(2, 7):
                    assert release(store, target, dev_desired) == n
                assert store.head("development", None).revision == 6  # type: ignore[union-attr]
                wait_for(lambda: live.revision == "6", what="the watcher to move off the stopped member")
                assert watcher.stats.endpoint != cluster.endpoints[cut]
            finally:
                os.kill(pid, signal.SIGCONT)
        store.close()
        target.close()

    def test_writes_continue_while_a_member_is_down(self, etcd_cluster_factory, prefix: str) -> None:
        """A member stopped for good (SIGTERM) leaves a quorum that still accepts releases."""
        cluster = etcd_cluster_factory(size=3)
        store = open_store(etcd_url(cluster.endpoints, prefix, timeout="1"))
        cluster.members[0].stop()
        for n in range(1, 6):
            head = store.head("production", None)
            expected = None if head is None else head.revision
            store.append(make_content(n=n), expected_head=expected, audit=AUDIT)
        assert [r.revision for r in store.history("production", None)] == [1, 2, 3, 4, 5]
        assert store.verify_audit().ok
        store.close()
