"""deploy --target etcd://: one transaction per release, a manifest readers can check,
deleted KEYs removed, secrets only as fingerprints unless allowed."""

from __future__ import annotations

import base64
import threading
from collections import defaultdict

import pytest

from tierconf.errors import DeployError
from tierconf.etcd import EtcdClient, EtcdConfig, EtcdWatcher, Manifest
from tierconf.etcd._client import WatchEvent, delete, prefix_end, put
from tierconf.etcd._keys import AppKeys
from tierconf.etcd._publish import open_etcd_target
from tierconf.targets import DesiredState, Scope, TargetOptions, open_target

from .conftest import config_map, etcd_url, wait_for, with_values


def client_for(url: str) -> EtcdClient:
    return EtcdClient(EtcdConfig.from_url(url))


def everything(client: EtcdClient, prefix: str) -> dict[str, bytes]:
    root = prefix.encode() + b"/"
    return {kv.key.decode(): kv.value for kv in client.range_all(root, prefix_end(root)).kvs}


class TestAtomicity:
    def test_keys_and_manifest_share_one_revision(self, etcd_server, prefix: str, scope: Scope) -> None:
        """Every KEY a publish changes or deletes and its manifest carry one etcd revision,
        and a watcher following the prefix never sees a manifest whose KEYs are not all
        from that release."""
        url = etcd_url([etcd_server.endpoint], prefix)
        keys = AppKeys(prefix, scope.app).live(scope.tier, scope.tenant)
        client = client_for(url)
        start = client.status()["header"]["revision"]
        events: dict[int, list[WatchEvent]] = defaultdict(list)
        stream = client.watch(keys.prefix, prefix_end(keys.prefix), int(start) + 1)

        def follow() -> None:
            try:
                for batch in stream:
                    for event in batch.events:
                        events[event.kv.mod_revision].append(event)
            except Exception:
                pass

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        target = open_target(url, scope)
        releases = 30
        for n in range(1, releases + 1):
            # Each release rewrites every KEY and drops the previous release's extra KEY.
            data = {f"KEY_{i:02d}": f"{n}" for i in range(40)} | {f"ONLY_IN_{n}": f"{n}"}
            target.apply(target.plan(config_map(scope, "atomic", data, n)))
        target.close()

        def manifests_seen() -> int:
            return sum(1 for batch in list(events.values()) for e in batch if e.kv.key == keys.manifest)

        wait_for(lambda: manifests_seen() == releases, what="every manifest event")
        stream.close()
        thread.join(timeout=5)
        state: dict[str, bytes] = {}
        for revision in sorted(events):
            batch = events[revision]
            for event in batch:
                name = event.kv.key.decode().removeprefix(keys.base)
                if event.type == "DELETE":
                    state.pop(name, None)
                else:
                    state[name] = event.kv.value
            manifest_events = [e for e in batch if e.kv.key == keys.manifest]
            assert manifest_events, f"etcd revision {revision} changed KEYs without a manifest"
            manifest = Manifest.from_json(manifest_events[0].kv.value, "manifest")
            published = {k.removeprefix("keys/"): v for k, v in state.items() if k.startswith("keys/")}
            assert set(published) == set(manifest.keys)
            assert {v.decode() for v in published.values()} == {str(manifest.revision)}
            assert manifest.problem(published, {}) is None
        client.close()

    def test_large_change_is_split_but_never_seen_half_done(
        self, etcd_server, prefix: str, scope: Scope
    ) -> None:
        """A change beyond etcd's 128 operations per transaction goes out in several
        transactions, and the watcher still only delivers whole releases."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, scope)
        target.apply(target.plan(config_map(scope, "big", {"SEED": "0"}, 1)))
        keys = AppKeys(prefix, scope.app).live(scope.tier, scope.tenant)
        watcher = EtcdWatcher(client_for(url), keys)
        try:
            assert watcher.read().revision == "1"
            for n in (2, 3):
                data = {f"K{i:03d}": str(n) for i in range(300)}
                target.apply(target.plan(config_map(scope, "big", data, n)))
            seen = []
            while len(seen) < 2:
                assert watcher.wait(30)
                data = watcher.read()
                seen.append(data)
            for number, data in zip((2, 3), seen, strict=True):
                assert data.revision == str(number)
                assert len(data.files) == 300
                assert set(data.files.values()) == {str(number).encode()}
            assert watcher.stats.incomplete == 0
        finally:
            watcher.close()
            target.close()


class TestPlan:
    def test_republishing_the_same_release_changes_nothing(
        self, etcd_server, prefix: str, dev_desired: DesiredState
    ) -> None:
        """A second deploy of the same revision plans no change and writes nothing."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, dev_desired.scope)
        first = target.apply(target.plan(with_values(dev_desired, 1)))
        assert first.created and "published revision 1" in first.notes[0]
        client = client_for(url)
        before = client.status()["header"]["revision"]
        plan = target.plan(with_values(dev_desired, 1))
        assert not plan.changed
        result = target.apply(plan)
        assert "already published" in result.notes[0]
        assert client.status()["header"]["revision"] == before
        client.close()
        target.close()

    def test_changed_and_removed_keys_are_planned(self, etcd_server, prefix: str, scope: Scope) -> None:
        """plan names per object the KEYs that change, appear and disappear."""
        target = open_target(etcd_url([etcd_server.endpoint], prefix), scope)
        target.apply(target.plan(config_map(scope, "app", {"A": "1", "B": "2"}, 1)))
        plan = target.plan(config_map(scope, "app", {"A": "9", "C": "3"}, 2))
        (change,) = [o for o in plan.objects if o.action == "update"]
        assert {(c.key, c.change) for c in change.changes} == {
            ("A", "changed"),
            ("B", "removed"),
            ("C", "added"),
        }
        target.apply(plan)
        assert target.read_live().get("ConfigMap/app").data == {"A": "9", "C": "3"}  # type: ignore[union-attr]
        target.close()

    def test_dry_run_writes_nothing(self, etcd_server, prefix: str, scope: Scope) -> None:
        """With dry_run the result lists the changes and etcd stays untouched."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, scope, TargetOptions(dry_run=True))
        result = target.apply(target.plan(config_map(scope, "app", {"A": "1"}, 1)))
        assert result.dry_run and result.created == ("ConfigMap/app",)
        client = client_for(url)
        assert everything(client, prefix) == {}
        client.close()
        target.close()

    def test_older_revision_is_refused(self, etcd_server, prefix: str, scope: Scope) -> None:
        """Publishing a revision older than the one live is refused."""
        target = open_target(etcd_url([etcd_server.endpoint], prefix), scope)
        target.apply(target.plan(config_map(scope, "app", {"A": "5"}, 5)))
        with pytest.raises(DeployError, match="already publishes revision 5"):
            target.apply(target.plan(config_map(scope, "app", {"A": "4"}, 4)))
        target.close()

    def test_stray_keys_are_deleted(self, etcd_server, prefix: str, scope: Scope) -> None:
        """A KEY someone wrote by hand under the scope is drift, and the next publish removes it."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, scope)
        target.apply(target.plan(config_map(scope, "app", {"A": "1"}, 1)))
        keys = AppKeys(prefix, scope.app).live(scope.tier, scope.tenant)
        client = client_for(url)
        client.txn([], [put(keys.key("HAND"), b"by hand")])
        plan = target.plan(config_map(scope, "app", {"A": "1"}, 1))
        assert [o.action for o in plan.objects if o.action != "noop"] == ["delete"]
        target.apply(plan)
        assert keys.key("HAND").decode() not in everything(client, prefix)
        client.close()
        target.close()

    def test_a_stale_view_is_caught_by_the_compares(self, etcd_server, prefix: str, scope: Scope) -> None:
        """A target publishes from the state it last wrote; when another publisher or a
        hand-written KEY got in since, the transaction's compares fail and it re-reads, so
        the other writer's change is neither kept as a stray nor lost from the plan."""
        url = etcd_url([etcd_server.endpoint], prefix)
        first, second = open_target(url, scope), open_target(url, scope)
        first.apply(first.plan(config_map(scope, "app", {"A": "1", "B": "1"}, 1)))
        plan = first.plan(config_map(scope, "app", {"A": "3"}, 3))  # `first` now knows revision 1
        second.apply(second.plan(config_map(scope, "app", {"A": "2", "B": "2", "C": "2"}, 2)))
        keys = AppKeys(prefix, scope.app).live(scope.tier, scope.tenant)
        client = client_for(url)
        client.txn([], [put(keys.key("HAND"), b"by hand")])
        first.apply(plan)
        live = {k.rsplit("/", 1)[-1]: v for k, v in everything(client, prefix).items() if "/keys/" in k}
        assert live == {"A": b"3"}
        manifest = Manifest.from_json(everything(client, prefix)[keys.manifest.decode()], "m")
        assert manifest.revision == 3 and manifest.keys == ("A",)
        client.close()
        first.close()
        second.close()


    def test_a_key_deleted_by_hand_is_put_back(self, etcd_server, prefix: str, scope: Scope) -> None:
        """Compares cannot see a deleted key. A KEY deleted by hand between two publishes of
        one target is noticed by the count in the publish transaction and put back, so the
        publish never ends on a manifest whose KEYs are not all there."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, scope)
        target.apply(target.plan(config_map(scope, "app", {"A": "1", "B": "1"}, 1)))
        plan = target.plan(config_map(scope, "app", {"A": "2", "B": "1"}, 2))
        keys = AppKeys(prefix, scope.app).live(scope.tier, scope.tenant)
        client = client_for(url)
        client.txn([], [delete(keys.key("B"))])
        target.apply(plan)
        live = {k.rsplit("/", 1)[-1]: v for k, v in everything(client, prefix).items() if "/keys/" in k}
        assert live == {"A": b"2", "B": b"1"}
        # Publishing the same release again after another deletion repairs it as well,
        # instead of answering "already published" from what the target remembers.
        client.txn([], [delete(keys.key("A"))])
        result = target.apply(plan)
        assert "already published" not in " ".join(result.notes)
        live = {k.rsplit("/", 1)[-1]: v for k, v in everything(client, prefix).items() if "/keys/" in k}
        assert live == {"A": b"2", "B": b"1"}
        client.close()
        target.close()


class TestSecrets:
    def test_only_fingerprints_by_default(self, etcd_server, prefix: str, dev_desired: DesiredState) -> None:
        """Without publish_secrets no secret value is written, only its fingerprint."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_target(url, dev_desired.scope)
        plan = target.plan(with_values(dev_desired, 1))
        assert any("--publish-secrets" in w for w in plan.warnings)
        target.apply(plan)
        client = client_for(url)
        stored = everything(client, prefix)
        secrets = [
            base64.b64decode(v).decode()
            for m in dev_desired.manifests
            if m["kind"] == "Secret"
            for v in m["data"].values()
        ]
        assert secrets
        blob = b"\n".join(stored.values()).decode()
        assert not [s for s in secrets if s in blob]
        assert any("/fingerprints/DB_PASSWORD" in key for key in stored)
        assert not any(key.endswith("/keys/DB_PASSWORD") for key in stored)
        client.close()
        target.close()

    def test_publish_secrets_needs_tls_or_auth(
        self, etcd_server, prefix: str, dev_desired: DesiredState
    ) -> None:
        """publish_secrets over plain HTTP without auth is a plan blocker, and apply refuses."""
        url = etcd_url([etcd_server.endpoint], prefix)
        target = open_etcd_target(url, dev_desired.scope, publish_secrets=True)
        plan = target.plan(with_values(dev_desired, 1))
        assert plan.blockers and "neither TLS nor authenticated" in plan.blockers[0]
        with pytest.raises(DeployError, match="--publish-secrets refused"):
            target.apply(plan)
        target.close()
