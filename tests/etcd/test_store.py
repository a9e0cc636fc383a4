"""EtcdRevisionStore beyond the shared contract: racing processes, key layout, URLs."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import zlib

import pytest

from tierconf.errors import StoreError
from tierconf.etcd import EtcdClient, EtcdConfig, EtcdRevisionStore
from tierconf.etcd._client import KeyValue, prefix_end
from tierconf.etcd._store import COMPRESSED, _load, _pack
from tierconf.store import AuditRequest, open_store

from .conftest import etcd_url, here

RELEASE = AuditRequest(actor="alice", action="release", reason="test")


class TestRacingProcesses:
    def test_two_processes_lose_no_revision(self, etcd_server, prefix: str) -> None:
        """Two releasers in two processes racing on one tier get consecutive revisions,
        each built on the one before it, and neither loses a release."""
        url = etcd_url([etcd_server.endpoint], prefix)
        count = 25
        with contextlib.ExitStack() as stack:
            procs = [
                stack.enter_context(
                    subprocess.Popen(
                        [sys.executable, str(here() / "_releaser.py"), url, name, str(count)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                )
                for name in ("left", "right")
            ]
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            for proc in procs:  # release both at once
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.close()
            for proc in procs:
                assert proc.wait(timeout=120) == 0
        store = open_store(url)
        history = store.history("production", None)
        assert [r.revision for r in history] == list(range(1, 2 * count + 1))
        assert [r.content.values["chain"]["parent"] for r in history] == list(range(2 * count))
        for name in ("left", "right"):
            mine = [r.content.values["chain"]["index"] for r in history if r.content.author == name]
            assert mine == list(range(count))
        assert store.verify_audit().ok
        assert len(store.audit_log()) == 2 * count
        store.close()


class TestLayout:
    def test_keys_follow_the_documented_layout(self, etcd_server, prefix: str) -> None:
        """Revisions, the head, audit entries and the audit head live under prefix/app."""
        url = etcd_url([etcd_server.endpoint], prefix, app="shop")
        store = open_store(url)
        from tests.store.test_contract import make_content  # the contract's content builder

        store.append(make_content("production", "acme"), expected_head=None, audit=RELEASE)
        client = EtcdClient(EtcdConfig.from_url(url))
        root = f"{prefix}/shop/".encode()
        keys = [kv.key.decode() for kv in client.range(root, prefix_end(root), keys_only=True).kvs]
        assert keys == [
            f"{prefix}/shop/audit/entries/000000001",
            f"{prefix}/shop/audit/head",
            f"{prefix}/shop/heads/production/acme",
            f"{prefix}/shop/revisions/production/acme/000000001",
        ]
        stored = client.range(keys[-1].encode()).kvs[0].value
        assert stored.startswith(COMPRESSED)  # revision records are zlib-compressed JSON
        record = json.loads(zlib.decompress(stored[len(COMPRESSED) :]))
        assert (record["revision"], record["audit_seq"]) == (1, 1)
        assert json.loads(client.range(keys[1].encode()).kvs[0].value)["seq"] == 1  # the rest is JSON
        client.close()
        store.close()

    def test_records_read_compressed_or_plain(self) -> None:
        """Revision records are stored compressed; plain JSON records (written before
        compression) still read, and a damaged compressed one is a StoreError."""
        record = {"revision": 3, "content": "x" * 5000}
        packed = _pack(record)
        assert len(packed) < 200
        assert _load(KeyValue(b"/r/3", packed, 1, 1, 1)) == record
        assert _load(KeyValue(b"/r/3", json.dumps(record).encode(), 1, 1, 1)) == record
        with pytest.raises(StoreError, match="/r/3 is not a tierconf record"):
            _load(KeyValue(b"/r/3", COMPRESSED + b"not zlib", 1, 1, 1))

    def test_default_app_is_the_projects(self, etcd_server, prefix: str) -> None:
        """Without ?app= the store writes under the project's default app name."""
        store = open_store(etcd_url([etcd_server.endpoint], prefix))
        assert isinstance(store, EtcdRevisionStore)
        assert store.root == f"{prefix}/spotify-ai-agent"
        store.close()


class TestUnreachable:
    def test_no_member_answers(self) -> None:
        """A store whose endpoints all refuse raises StoreError naming the cluster."""
        store = open_store("etcd://127.0.0.1:1,127.0.0.1:2?timeout=0.5")
        with pytest.raises(StoreError, match=r"etcd revision store at etcd://127.0.0.1:1,127.0.0.1:2"):
            store.head("production", None)
        store.close()

    def test_malformed_url(self) -> None:
        """A malformed etcd URL is a StoreError with the accepted forms."""
        with pytest.raises(StoreError, match="HOST:PORT"):
            open_store("etcd://host:notaport")
