"""The RevisionStore contract: every implementation must pass these tests.

To test a new implementation (etcd), add its name to ``IMPLEMENTATIONS`` and a branch to
the ``store`` fixture.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import tierconf.store
from tierconf.errors import ConcurrentUpdateError, StoreError
from tierconf.store import (
    GENESIS_HASH,
    AuditRequest,
    InMemoryRevisionStore,
    ReleaseContent,
    Revision,
    RevisionStore,
    SqliteRevisionStore,
    append_with_retry,
    canonical_json,
    open_store,
)

IMPLEMENTATIONS = ["memory", "sqlite", pytest.param("etcd", marks=pytest.mark.servers)]

RELEASE = AuditRequest(actor="alice", action="release", reason="weekly release")


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RevisionStore]:
    """A fresh, empty store of each implementation."""
    opened: RevisionStore
    if request.param == "memory":
        opened = InMemoryRevisionStore()
    elif request.param == "etcd":
        # The session's real etcd; a fresh key prefix per test keeps tests apart.
        server = request.getfixturevalue("etcd_server")
        prefix = f"/tierconf-test-{uuid.uuid4().hex[:12]}"
        opened = open_store(f"etcd://{server.host}:{server.client_port}?prefix={prefix}")
    else:
        opened = SqliteRevisionStore(tmp_path / ".tierconf" / "store.db")
    yield opened
    opened.close()


def make_content(
    tier: str = "production",
    tenant: str | None = None,
    *,
    n: int = 1,
    rolled_back_from: int | None = None,
) -> ReleaseContent:
    """A small release whose checksum depends on ``n``."""
    return ReleaseContent(
        tier=tier,
        tenant=tenant,
        checksum=hashlib.sha256(f"{tier}/{tenant}/{n}".encode()).hexdigest(),
        manifests=({"apiVersion": "v1", "kind": "ConfigMap", "data": {"DB_POOL_SIZE": str(n)}},),
        values={
            "database.postgres.pool_size": {"value": n, "layer": "base", "file": "base/db.yaml"}
        },
        findings={"error": 0, "warning": 1, "info": 0},
        author="alice",
        message=f"release {n}",
        git_commit="0123abcd",
        tierconf_version="0.1.0",
        rolled_back_from=rolled_back_from,
    )


def release(
    store: RevisionStore, tier: str = "production", tenant: str | None = None, n: int = 1
) -> Revision:
    """Append one revision on top of the current head."""
    head = store.head(tier, tenant)
    return store.append(
        make_content(tier, tenant, n=n),
        expected_head=None if head is None else head.revision,
        audit=RELEASE,
    )


class TestNumbering:
    def test_first_revision_is_one(self, store: RevisionStore) -> None:
        """The first revision of a (tier, tenant) is numbered 1."""
        assert release(store).revision == 1

    def test_revisions_count_up(self, store: RevisionStore) -> None:
        """Successive appends are numbered 1, 2, 3."""
        assert [release(store, n=n).revision for n in range(3)] == [1, 2, 3]

    def test_tiers_are_numbered_independently(self, store: RevisionStore) -> None:
        """Each tier has its own sequence."""
        release(store, "production")
        release(store, "production")
        assert release(store, "staging").revision == 1

    def test_tenants_are_numbered_independently(self, store: RevisionStore) -> None:
        """The tier itself and each of its tenants have their own sequences."""
        release(store, "production", None)
        release(store, "production", None)
        assert release(store, "production", "acme").revision == 1
        assert release(store, "production", "globex").revision == 1
        assert release(store, "production", None).revision == 3


class TestReading:
    def test_head_of_empty_scope_is_none(self, store: RevisionStore) -> None:
        """head() is None before the first release."""
        assert store.head("production", None) is None

    def test_head_is_newest(self, store: RevisionStore) -> None:
        """head() returns the last appended revision."""
        release(store, n=1)
        last = release(store, n=2)
        assert store.head("production", None) == last

    def test_get_returns_what_was_appended(self, store: RevisionStore) -> None:
        """get() round-trips every field of the content."""
        content = make_content(n=7, rolled_back_from=None)
        appended = store.append(content, expected_head=None, audit=RELEASE)
        got = store.get("production", None, 1)
        assert got == appended
        assert got.content == content

    def test_created_at_is_utc_iso8601(self, store: RevisionStore) -> None:
        """created_at is ISO 8601 in UTC with a Z suffix."""
        created_at = release(store).created_at
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", created_at)

    def test_history_is_oldest_first(self, store: RevisionStore) -> None:
        """history() lists every revision of the scope, oldest first."""
        for n in range(3):
            release(store, n=n)
        release(store, "staging")
        assert [r.revision for r in store.history("production", None)] == [1, 2, 3]
        assert [r.content.message for r in store.history("production", None)] == [
            "release 0",
            "release 1",
            "release 2",
        ]

    def test_history_of_empty_scope_is_empty(self, store: RevisionStore) -> None:
        """history() of a scope never released is an empty list."""
        assert store.history("production", "acme") == []

    def test_get_missing_names_existing_revisions(self, store: RevisionStore) -> None:
        """get() of an absent revision raises StoreError listing the stored ones."""
        for n in range(3):
            release(store, n=n)
        with pytest.raises(StoreError, match=r"revision 9 of production does not exist.*1-3"):
            store.get("production", None, 9)

    def test_get_in_empty_scope_says_nothing_is_recorded(self, store: RevisionStore) -> None:
        """get() in a scope with no revision says none is recorded yet."""
        with pytest.raises(StoreError, match=r"tenant acme.*no revision .* recorded yet"):
            store.get("production", "acme", 1)

    def test_returned_content_is_a_copy(self, store: RevisionStore) -> None:
        """Mutating a returned mapping does not change what is stored."""
        release(store)
        got = store.get("production", None, 1)
        got.content.manifests[0]["kind"] = "Tampered"  # type: ignore[index]
        assert store.get("production", None, 1).content.manifests[0]["kind"] == "ConfigMap"

    def test_non_json_content_is_refused(self, store: RevisionStore) -> None:
        """Content JSON cannot represent is refused with StoreError and nothing is stored."""
        bad = dataclasses.replace(make_content(), values={"x": {"value": float("nan")}})
        with pytest.raises(StoreError, match="cannot be stored as JSON"):
            store.append(bad, expected_head=None, audit=RELEASE)
        assert store.history("production", None) == []
        assert store.audit_log() == []

    def test_empty_tenant_string_is_rejected(self, store: RevisionStore) -> None:
        """A tenant of "" is a programming error: None means no tenant."""
        with pytest.raises(ValueError, match="tenant"):
            store.head("production", "")


class TestCompareAndSwap:
    def test_stale_expected_head_is_refused(self, store: RevisionStore) -> None:
        """Appending with an expected head that is no longer the head raises."""
        release(store, n=1)
        release(store, n=2)
        with pytest.raises(ConcurrentUpdateError, match="expected its head to be revision 1"):
            store.append(make_content(n=3), expected_head=1, audit=RELEASE)

    def test_refused_append_writes_nothing(self, store: RevisionStore) -> None:
        """A lost compare-and-swap leaves revisions and audit trail untouched."""
        release(store)
        with pytest.raises(ConcurrentUpdateError):
            store.append(make_content(n=2), expected_head=None, audit=RELEASE)
        assert [r.revision for r in store.history("production", None)] == [1]
        assert len(store.audit_log()) == 1

    def test_expected_head_ahead_of_store_is_refused(self, store: RevisionStore) -> None:
        """An expected head beyond the real head is refused too."""
        with pytest.raises(ConcurrentUpdateError, match="it is no revision"):
            store.append(make_content(), expected_head=4, audit=RELEASE)

    def test_retry_rebuilds_on_the_new_head(self, store: RevisionStore) -> None:
        """append_with_retry calls build again with the head another writer recorded."""
        seen: list[int | None] = []

        def build(head: Revision | None) -> ReleaseContent:
            seen.append(None if head is None else head.revision)
            if len(seen) == 1:
                release(store, n=100)  # a competing writer wins the race
            return make_content(n=len(seen))

        revision = append_with_retry(store, "production", None, build, audit=RELEASE)
        assert seen == [None, 1]
        assert revision.revision == 2

    def test_threads_lose_no_update(self, store: RevisionStore) -> None:
        """Eight threads releasing one tier through append_with_retry get 1..8, each built
        on the revision before it."""

        def build(head: Revision | None) -> ReleaseContent:
            return make_content(n=0 if head is None else head.revision)

        def worker() -> int:
            return append_with_retry(store, "production", None, build, audit=RELEASE).revision

        with ThreadPoolExecutor(max_workers=8) as pool:
            numbers = sorted(pool.map(lambda _: worker(), range(8)))
        assert numbers == list(range(1, 9))
        history = store.history("production", None)
        assert [r.content.message for r in history] == [f"release {n}" for n in range(8)]

    def test_retry_gives_up_after_attempts(self, store: RevisionStore) -> None:
        """append_with_retry raises ConcurrentUpdateError once every attempt lost."""

        def build(head: Revision | None) -> ReleaseContent:
            release(store, n=0)
            return make_content()

        with pytest.raises(ConcurrentUpdateError):
            append_with_retry(store, "production", None, build, audit=RELEASE, attempts=3)

    def test_retry_rejects_content_for_another_scope(self, store: RevisionStore) -> None:
        """build must return content for the scope it was asked for."""
        with pytest.raises(ValueError, match="expected production"):
            append_with_retry(
                store, "production", None, lambda _: make_content("staging"), audit=RELEASE
            )


class TestAudit:
    def test_each_append_adds_one_entry(self, store: RevisionStore) -> None:
        """Every append records an audit entry naming its scope, revision and checksum."""
        first = release(store, n=1)
        second = release(store, "production", "acme", n=2)
        entries = store.audit_log()
        assert [e.seq for e in entries] == [1, 2]
        assert [(e.tier, e.tenant, e.revision, e.checksum) for e in entries] == [
            ("production", None, 1, first.content.checksum),
            ("production", "acme", 1, second.content.checksum),
        ]
        assert {(e.actor, e.action, e.reason) for e in entries} == {
            ("alice", "release", "weekly release")
        }

    def test_entries_are_chained(self, store: RevisionStore) -> None:
        """The first entry links to 64 zeros and each later one to its predecessor."""
        for n in range(3):
            release(store, n=n)
        entries = store.audit_log()
        assert entries[0].prev_hash == GENESIS_HASH == "0" * 64
        assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]

    def test_hash_covers_every_other_field(self, store: RevisionStore) -> None:
        """hash is sha256 of the canonical JSON of every other field (stores must agree)."""
        release(store)
        entry = store.audit_log()[0]
        fields = {
            field.name: getattr(entry, field.name)
            for field in dataclasses.fields(entry)
            if field.name != "hash"
        }
        expected = hashlib.sha256(
            json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        assert entry.hash == expected == entry.compute_hash()

    def test_rollback_and_force_are_recorded_with_revisions(self, store: RevisionStore) -> None:
        """append accepts rollback and force actions and records them as given."""
        release(store)
        store.append(
            make_content(n=2, rolled_back_from=1),
            expected_head=1,
            audit=AuditRequest("bob", "rollback", "bad pool size"),
        )
        store.append(
            make_content(n=3), expected_head=2, audit=AuditRequest("bob", "force", "hotfix")
        )
        assert [e.action for e in store.audit_log()] == ["release", "rollback", "force"]
        assert store.get("production", None, 2).content.rolled_back_from == 1

    def test_append_refuses_actions_without_revision(self, store: RevisionStore) -> None:
        """A deploy or prune audit request cannot create a revision."""
        with pytest.raises(ValueError, match="use record_audit"):
            store.append(make_content(), expected_head=None, audit=AuditRequest("a", "deploy", ""))

    def test_record_audit_adds_entry_without_revision(self, store: RevisionStore) -> None:
        """record_audit chains a deploy entry and creates no revision."""
        rev = release(store)
        entry = store.record_audit(
            AuditRequest("carol", "deploy", "to kubernetes"),
            tier="production",
            tenant=None,
            revision=rev.revision,
            checksum=rev.content.checksum,
        )
        assert (entry.seq, entry.action, entry.revision) == (2, "deploy", 1)
        assert entry.prev_hash == store.audit_log()[0].hash
        assert len(store.history("production", None)) == 1

    def test_record_audit_refuses_release(self, store: RevisionStore) -> None:
        """A release must go through append, never record_audit."""
        with pytest.raises(ValueError, match="use append"):
            store.record_audit(RELEASE, tier="production", tenant=None)

    def test_audit_log_filters_by_scope(self, store: RevisionStore) -> None:
        """audit_log filters by tier and tenant; None means any."""
        release(store, "production", None)
        release(store, "production", "acme")
        release(store, "staging", "acme")
        assert [e.seq for e in store.audit_log("production")] == [1, 2]
        assert [e.seq for e in store.audit_log(tenant="acme")] == [2, 3]
        assert [e.seq for e in store.audit_log("staging", "acme")] == [3]
        assert len(store.audit_log()) == 3

    def test_verify_empty_store(self, store: RevisionStore) -> None:
        """An empty trail verifies."""
        report = store.verify_audit()
        assert (report.ok, report.entries, report.first_bad_seq) == (True, 0, None)

    def test_verify_after_activity(self, store: RevisionStore) -> None:
        """A trail written only through the store verifies, with its entry count."""
        for n in range(3):
            release(store, n=n)
        store.record_audit(AuditRequest("c", "deploy", "dir"), tier="production", tenant=None)
        store.prune("production", None, keep=1)
        report = store.verify_audit()
        assert (report.ok, report.entries, report.problem) == (True, 5, None)


class TestPrune:
    def test_keeps_newest(self, store: RevisionStore) -> None:
        """prune keeps the newest N revisions and returns how many it deleted."""
        for n in range(5):
            release(store, n=n)
        assert store.prune("production", None, keep=2) == 3
        assert [r.revision for r in store.history("production", None)] == [4, 5]

    def test_numbering_continues(self, store: RevisionStore) -> None:
        """Revision numbers are never reused after pruning."""
        for n in range(4):
            release(store, n=n)
        store.prune("production", None, keep=1)
        assert release(store, n=9).revision == 5

    def test_pruned_revision_is_gone(self, store: RevisionStore) -> None:
        """get() of a pruned revision names the remaining ones."""
        for n in range(4):
            release(store, n=n)
        store.prune("production", None, keep=2)
        with pytest.raises(StoreError, match="stored revisions: 3-4"):
            store.get("production", None, 1)

    def test_records_prune_entry(self, store: RevisionStore) -> None:
        """A prune that deletes something is recorded in the audit trail by its actor."""
        for n in range(3):
            release(store, n=n)
        store.prune("production", None, keep=1, actor="cron")
        last = store.audit_log()[-1]
        assert (last.action, last.actor, last.tier) == ("prune", "cron", "production")
        assert "1-2" in last.reason

    def test_nothing_to_prune(self, store: RevisionStore) -> None:
        """A prune within the limit deletes nothing and records nothing."""
        release(store)
        assert store.prune("production", None, keep=5) == 0
        assert len(store.audit_log()) == 1

    def test_only_the_named_scope(self, store: RevisionStore) -> None:
        """prune leaves other tiers and tenants alone."""
        for n in range(3):
            release(store, "production", None, n)
            release(store, "production", "acme", n)
        store.prune("production", None, keep=1)
        assert len(store.history("production", "acme")) == 3

    def test_keep_below_one_is_rejected(self, store: RevisionStore) -> None:
        """keep=0 would delete the head, so it is refused."""
        with pytest.raises(ValueError, match="at least 1"):
            store.prune("production", None, keep=0)


class TestSummary:
    def test_shape_matches_history_json(self, store: RevisionStore) -> None:
        """summary() has exactly the keys and types of CONTRACT.md's history JSON item."""
        revision = release(store)
        summary = revision.summary()
        assert summary == {
            "revision": 1,
            "created_at": revision.created_at,
            "author": "alice",
            "message": "release 1",
            "checksum": revision.content.checksum,
            "rolled_back_from": None,
        }
        assert json.loads(json.dumps(summary)) == summary

    def test_rolled_back_from(self, store: RevisionStore) -> None:
        """A rollback's summary names the revision it restored."""
        release(store)
        rolled = store.append(
            make_content(n=2, rolled_back_from=1),
            expected_head=1,
            audit=AuditRequest("bob", "rollback", "restore 1"),
        )
        assert rolled.summary()["rolled_back_from"] == 1


class TestClose:
    def test_use_after_close_raises(self, store: RevisionStore) -> None:
        """Any call on a closed store raises StoreError; closing twice is harmless."""
        store.close()
        store.close()
        with pytest.raises(StoreError, match="closed"):
            store.head("production", None)


class TestModel:
    def test_audit_request_rejects_unknown_action(self) -> None:
        """An AuditRequest with an action outside the contract's list is refused."""
        with pytest.raises(ValueError, match="unknown audit action"):
            AuditRequest("a", "delete", "")  # type: ignore[arg-type]

    def test_content_rejects_empty_tenant(self) -> None:
        """ReleaseContent refuses tenant "" (None means no tenant)."""
        with pytest.raises(ValueError, match="tenant"):
            make_content(tenant="")


class TestPublicApi:
    def test_all_is_exact(self) -> None:
        """tierconf.store exports exactly its documented names, all importable."""
        assert sorted(tierconf.store.__all__) == sorted(
            [
                "DEFAULT_STORE_URL",
                "GENESIS_HASH",
                "SCHEMA_VERSION",
                "AuditAction",
                "AuditEntry",
                "AuditReport",
                "AuditRequest",
                "InMemoryRevisionStore",
                "ReleaseContent",
                "Revision",
                "RevisionStore",
                "RevisionSummary",
                "SqliteRevisionStore",
                "append_with_retry",
                "canonical_json",
                "fingerprint",
                "open_store",
            ]
        )
        for name in tierconf.store.__all__:
            assert hasattr(tierconf.store, name)

    def test_canonical_json_is_compact_and_sorted(self) -> None:
        """canonical_json sorts keys and uses no whitespace."""
        assert canonical_json({"b": 1, "a": (1, 2)}) == '{"a":[1,2],"b":1}'
