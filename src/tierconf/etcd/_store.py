"""``EtcdRevisionStore``: the revision store on etcd, for releasers on many machines.

Keys (see :mod:`tierconf.etcd._keys`): one JSON record per revision under
``<prefix>/<app>/revisions/<tier>/<tenant|_>/``, a head pointer per (tier, tenant), one
JSON record per audit entry and the audit head (last ``seq`` and ``hash``).

Atomicity: :meth:`EtcdRevisionStore.append` reads the head pointer and the audit head in
one snapshot, then sends ONE transaction that compares both keys' ``mod_revision`` with
what it read and, only if neither moved, writes the head, the revision record, the audit
entry and the audit head. Two releasers on different machines therefore never both
record "revision 8" (the loser gets ``ConcurrentUpdateError`` and rebuilds on the new
head), and the audit chain stays linear across every tier of the app.

Lost answers: when a transaction's answer is lost (a member died mid-request) it may
still have been applied. Every record carries a random ``txn`` id; after an error the
store re-reads and, if the revision it tried to write is there with its id, returns it
instead of writing a duplicate.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tierconf.errors import ConcurrentUpdateError, StoreError, StoreUrlError, UsageError
from tierconf.store._model import (
    GENESIS_HASH,
    AuditEntry,
    AuditReport,
    AuditRequest,
    ReleaseContent,
    Revision,
    RevisionLink,
    check_append_action,
    check_keep,
    check_record_action,
    check_scope,
    describe_scope,
    lost_race,
    missing_revision,
    prune_reason,
    seal_audit_entry,
    utc_timestamp,
    verify_chain,
)

from ._client import EtcdClient, EtcdRequestError, KeyValue, compare_mod, delete, get, prefix_end, put
from ._config import EtcdConfig, default_app
from ._keys import AppKeys

FORMAT = 1
"""Version of the JSON records; a newer one is refused rather than guessed at."""
COMPRESSED = b"tierconf-zlib:"
"""Marks a record stored as zlib-compressed JSON (revision records: a tier's content is
tens of KiB of JSON that shrinks about 8x, and etcd's write time grows with the size)."""
_ATTEMPTS = 200
T = TypeVar("T")


class EtcdRevisionStore:
    """A :class:`~tierconf.store.RevisionStore` in etcd, safe across threads and machines.

    Args:
        client: the connection (owned: :meth:`close` closes it).
        app: the application segment of the key layout.

    Errors are :class:`~tierconf.errors.StoreError` (etcd unreachable, damaged record) or
    :class:`~tierconf.errors.ConcurrentUpdateError` (another releaser won).
    """

    def __init__(self, client: EtcdClient, *, app: str) -> None:
        self._client = client
        self._keys = AppKeys(client.config.prefix, app)
        self._closed = False
        self._cache_lock = threading.Lock()
        self._head_cache: dict[bytes, KeyValue] = {}
        self._audit_cache: KeyValue | None = None

    def __repr__(self) -> str:
        return f"EtcdRevisionStore({self._client.name!r}, {self._keys.root!r})"

    @property
    def root(self) -> str:
        """``<prefix>/<app>``: every key of this store starts with it."""
        return self._keys.root

    # -- reads -----------------------------------------------------------------------------

    def head(self, tier: str, tenant: str | None) -> Revision | None:
        """See :meth:`RevisionStore.head`."""
        prefix = self._scope_prefix(tier, tenant)
        result = self._io(lambda: self._client.range(prefix, prefix_end(prefix), limit=1, descending=True))
        return _revision(result.kvs[0]) if result.kvs else None

    def get(self, tier: str, tenant: str | None, revision: int) -> Revision:
        """See :meth:`RevisionStore.get`."""
        prefix = self._scope_prefix(tier, tenant)
        key = self._keys.revision(tier, tenant, revision) if revision > 0 else None
        found = self._io(lambda: self._client.range(key)) if key is not None else None
        if found is not None and found.kvs:
            return _revision(found.kvs[0])
        listing = self._io(lambda: self._client.range(prefix, prefix_end(prefix), keys_only=True))
        raise missing_revision(tier, tenant, revision, _numbers(listing.kvs))

    def history(self, tier: str, tenant: str | None) -> list[Revision]:
        """See :meth:`RevisionStore.history`."""
        prefix = self._scope_prefix(tier, tenant)
        result = self._io(lambda: self._client.range_all(prefix, prefix_end(prefix), page=100))
        return [_revision(kv) for kv in result.kvs]

    def audit_log(self, tier: str | None = None, tenant: str | None = None) -> list[AuditEntry]:
        """See :meth:`RevisionStore.audit_log`."""
        self._check_open()
        prefix = self._keys.audit_entries
        result = self._io(lambda: self._client.range_all(prefix, prefix_end(prefix)))
        entries = [_audit_entry(kv) for kv in result.kvs]
        return [
            e for e in entries if (tier is None or e.tier == tier) and (tenant is None or e.tenant == tenant)
        ]

    def verify_audit(self) -> AuditReport:
        """See :meth:`RevisionStore.verify_audit`. Everything is read at one etcd revision."""
        self._check_open()
        entries_prefix = self._keys.audit_entries
        revisions_prefix = self._keys.all_revisions

        def read() -> tuple[list[KeyValue], list[KeyValue], KeyValue | None]:
            head = self._client.range(self._keys.audit_head)
            at = head.revision
            entries = self._client.range_all(entries_prefix, prefix_end(entries_prefix), revision=at)
            records = self._client.range_all(
                revisions_prefix, prefix_end(revisions_prefix), revision=at, page=100
            )
            return list(entries.kvs), list(records.kvs), head.kvs[0] if head.kvs else None

        entry_kvs, record_kvs, head_kv = self._io(read)
        entries = [_audit_entry(kv) for kv in entry_kvs]
        links = []
        for kv in record_kvs:
            record = _record(kv)
            content = ReleaseContent.from_json(record["content"])
            link = RevisionLink(
                record["audit_seq"], content.tier, content.tenant, record["revision"], record["checksum"]
            )
            links.append(link)
        last_seq = _load(head_kv)["seq"] if head_kv is not None else None
        return verify_chain(entries, links, last_seq=last_seq)

    # -- writes ----------------------------------------------------------------------------

    def append(
        self,
        content: ReleaseContent,
        *,
        expected_head: int | None,
        audit: AuditRequest,
    ) -> Revision:
        """See :meth:`RevisionStore.append` (one etcd transaction, see the module docstring)."""
        check_append_action(audit)
        content_json = content.to_json()
        tier, tenant = content.tier, content.tenant
        head_key = self._keys.head(tier, tenant)
        self._check_open()
        txn_id = uuid.uuid4().hex
        sent = False
        for attempt in range(_ATTEMPTS):
            cached = self._cached(head_key, expected_head) if attempt == 0 else None
            head_kv, audit_kv = cached or self._heads(head_key)
            head = _load(head_kv)["revision"] if head_kv is not None else None
            if head != expected_head:
                if sent and head is not None:
                    attempted = self._keys.revision(tier, tenant, (expected_head or 0) + 1)
                    mine = self._written_by(attempted, txn_id)
                    if mine is not None:
                        return mine
                raise lost_race(tier, tenant, expected_head, head)
            number_ = 1 if head is None else head + 1
            created_at = utc_timestamp()
            entry = _seal(audit_kv, audit, created_at, tier, tenant, number_, content.checksum)
            record = {
                "format": FORMAT,
                "revision": number_,
                "created_at": created_at,
                "checksum": content.checksum,
                "audit_seq": entry.seq,
                "txn": txn_id,
                "content": content_json,
            }
            head_value = _dump({"revision": number_})
            audit_puts = self._audit_puts(entry, txn_id)
            try:
                sent = True
                result = self._client.txn(
                    [_unchanged(head_key, head_kv), _unchanged(self._keys.audit_head, audit_kv)],
                    [
                        put(head_key, head_value),
                        put(self._keys.revision(tier, tenant, number_), _pack(record)),
                        *audit_puts,
                    ],
                )
            except EtcdRequestError as exc:
                if not exc.retriable:
                    raise self._error(exc) from exc
                continue  # outcome unknown: the next read tells (see the module docstring)
            if result.succeeded:
                self._remember(head_key, head_value, entry, result.revision)
                return Revision(number_, created_at, ReleaseContent.from_json(content_json))
            _pause(attempt)  # the audit head moved (another scope released): try again
        raise ConcurrentUpdateError(
            f"{describe_scope(tier, tenant)}: the audit trail kept moving for {_ATTEMPTS} attempts; retry",
            tenant=tenant,
        )

    def record_audit(
        self,
        request: AuditRequest,
        *,
        tier: str,
        tenant: str | None,
        revision: int | None = None,
        checksum: str | None = None,
    ) -> AuditEntry:
        """See :meth:`RevisionStore.record_audit`."""
        check_record_action(request)
        check_scope(tier, tenant)
        self._check_open()
        entry = self._chain(lambda _: _Step(request, [], []), tier, tenant, revision, checksum)
        if entry is None:
            raise AssertionError("unreachable: a record_audit step always writes")
        return entry

    def prune(self, tier: str, tenant: str | None, keep: int, *, actor: str = "tierconf") -> int:
        """See :meth:`RevisionStore.prune`: deletes and the prune entry in one transaction."""
        check_keep(keep)
        prefix = self._scope_prefix(tier, tenant)
        head_key = self._keys.head(tier, tenant)
        removed: list[int] = []

        def step(at: int) -> _Step | None:
            listing = self._client.range(prefix, prefix_end(prefix), keys_only=True, revision=at)
            removed[:] = _numbers(listing.kvs)[:-keep]
            if not removed:
                return None
            head = self._client.range(head_key, revision=at).kvs
            return _Step(
                AuditRequest(actor, "prune", prune_reason(removed, keep)),
                [_unchanged(head_key, head[0] if head else None)],
                [delete(prefix, self._keys.revision(tier, tenant, removed[-1] + 1))],
            )

        self._chain(step, tier, tenant, None, None)
        return len(removed)

    def close(self) -> None:
        """See :meth:`RevisionStore.close`."""
        if not self._closed:
            self._closed = True
            self._client.close()

    # -- internals -------------------------------------------------------------------------

    def _chain(
        self,
        step: Callable[[int], _Step | None],
        tier: str,
        tenant: str | None,
        revision: int | None,
        checksum: str | None,
    ) -> AuditEntry | None:
        """Append one audit entry, with the compares and operations ``step(at)`` plans
        from a read at etcd revision ``at``, in one transaction; retried while the audit
        head moves. ``step`` returning None means nothing to do (nothing is written)."""
        txn_id = uuid.uuid4().hex
        sent_seq: int | None = None
        for attempt in range(_ATTEMPTS):
            read = self._io(lambda: self._client.range(self._keys.audit_head))
            audit_head = read.kvs[0] if read.kvs else None
            at = read.revision
            if sent_seq is not None:
                mine = self._written_entry(sent_seq, txn_id)
                if mine is not None:
                    return mine
            planned = self._io(lambda: step(at))  # noqa: B023 - called in this iteration
            if planned is None:
                return None
            entry = _seal(audit_head, planned.request, utc_timestamp(), tier, tenant, revision, checksum)
            try:
                sent_seq = entry.seq
                result = self._client.txn(
                    [_unchanged(self._keys.audit_head, audit_head), *planned.compares],
                    [*planned.ops, *self._audit_puts(entry, txn_id)],
                )
            except EtcdRequestError as exc:
                if not exc.retriable:
                    raise self._error(exc) from exc
                continue
            if result.succeeded:
                return entry
            _pause(attempt)
        raise StoreError(f"the audit trail of {self._keys.root} kept moving for {_ATTEMPTS} attempts; retry")

    def _audit_puts(self, entry: AuditEntry, txn_id: str) -> list[dict[str, Any]]:
        with self._cache_lock:
            self._audit_cache = None  # another audit write (record_audit, prune) moves it
        fields = entry.chained_fields()
        return [
            put(self._keys.audit_entry(entry.seq), _dump({**fields, "hash": entry.hash, "txn": txn_id})),
            put(self._keys.audit_head, _dump({"seq": entry.seq, "hash": entry.hash})),
        ]

    def _cached(self, head_key: bytes, expected_head: int | None) -> tuple[KeyValue, KeyValue] | None:
        """The head and audit head this store wrote last, if the head is ``expected_head``.

        A releaser recording revision after revision then sends one transaction per
        release instead of a read and a write; the compares still catch any other writer
        (a failed compare falls back to reading).
        """
        with self._cache_lock:
            head = self._head_cache.get(head_key)
            audit = self._audit_cache
        if head is None or audit is None or _load(head).get("revision") != expected_head:
            return None
        return head, audit

    def _remember(self, head_key: bytes, head_value: bytes, entry: AuditEntry, revision: int) -> None:
        """Keep what a successful transaction wrote (all its keys carry ``revision``)."""
        audit_value = _dump({"seq": entry.seq, "hash": entry.hash})
        with self._cache_lock:
            self._head_cache[head_key] = KeyValue(head_key, head_value, revision, 0, 0)
            self._audit_cache = KeyValue(self._keys.audit_head, audit_value, revision, 0, 0)

    def _heads(self, head_key: bytes) -> tuple[KeyValue | None, KeyValue | None]:
        """The scope's head pointer and the audit head, read in one snapshot."""
        result = self._io(lambda: self._client.txn([], [get(head_key), get(self._keys.audit_head)]))
        head, audit = result.ranges
        return (head.kvs[0] if head.kvs else None), (audit.kvs[0] if audit.kvs else None)

    def _written_by(self, key: bytes, txn_id: str) -> Revision | None:
        found = self._io(lambda: self._client.range(key))
        if found.kvs and _record(found.kvs[0]).get("txn") == txn_id:
            return _revision(found.kvs[0])
        return None

    def _written_entry(self, seq: int, txn_id: str) -> AuditEntry | None:
        found = self._io(lambda: self._client.range(self._keys.audit_entry(seq)))
        if found.kvs and _load(found.kvs[0]).get("txn") == txn_id:
            return _audit_entry(found.kvs[0])
        return None

    def _scope_prefix(self, tier: str, tenant: str | None) -> bytes:
        self._check_open()
        check_scope(tier, tenant)
        return self._keys.revisions(tier, tenant)

    def _io(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except EtcdRequestError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: EtcdRequestError) -> StoreError:
        return StoreError(
            f"the etcd revision store at {self._client.name} ({self._keys.root}) failed: {exc}; "
            "check that a quorum of members is reachable and the credentials are right"
        )

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the etcd revision store at {self._client.name} is closed")


@dataclass(frozen=True)
class _Step:
    """What one audit append writes besides the entry: compares and operations."""

    request: AuditRequest
    compares: list[dict[str, Any]]
    ops: list[dict[str, Any]]


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))  # noqa: S311 - jitter, not crypto


def _unchanged(key: bytes, kv: KeyValue | None) -> dict[str, Any]:
    """Compare: ``key`` was not written since it was read (absent keys compare as 0)."""
    return compare_mod(key, "EQUAL", kv.mod_revision if kv is not None else 0)


def _dump(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _pack(record: object) -> bytes:
    """A revision record as stored: compressed JSON (read back by :func:`_load`)."""
    return COMPRESSED + zlib.compress(_dump(record), 1)


def _load(kv: KeyValue | None) -> dict[str, Any]:
    if kv is None:
        return {}
    try:
        raw = kv.value
        if raw.startswith(COMPRESSED):
            raw = zlib.decompress(raw[len(COMPRESSED) :])
        data = json.loads(raw)
    except (ValueError, zlib.error) as exc:
        where = kv.key.decode("utf-8", "replace")
        raise StoreError(f"etcd key {where} is not a tierconf record: {exc}") from exc
    if not isinstance(data, dict):
        raise StoreError(f"etcd key {kv.key.decode('utf-8', 'replace')} is not a tierconf record")
    if data.get("format", FORMAT) > FORMAT:
        raise StoreError(
            f"etcd key {kv.key.decode('utf-8', 'replace')} was written by a newer tierconf "
            f"(format {data['format']}); upgrade tierconf"
        )
    return data


def _record(kv: KeyValue) -> dict[str, Any]:
    data = _load(kv)
    if not {"revision", "created_at", "checksum", "audit_seq", "content"} <= data.keys():
        raise StoreError(f"etcd revision record {kv.key.decode('utf-8', 'replace')} is damaged")
    return data


def _revision(kv: KeyValue) -> Revision:
    record = _record(kv)
    content = ReleaseContent.from_json(record["content"])
    return Revision(int(record["revision"]), str(record["created_at"]), content)


def _audit_entry(kv: KeyValue) -> AuditEntry:
    try:
        return AuditEntry.from_fields(_load(kv))
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"etcd audit entry {kv.key.decode('utf-8', 'replace')} is damaged: {exc!r}") from exc


def _seal(
    audit_head: KeyValue | None,
    request: AuditRequest,
    at: str,
    tier: str,
    tenant: str | None,
    revision: int | None,
    checksum: str | None,
) -> AuditEntry:
    """The entry that follows the audit head record (``{"seq", "hash"}`` of the last entry)."""
    head = _load(audit_head)
    return seal_audit_entry(
        seq=int(head.get("seq", 0)) + 1,
        prev_hash=str(head.get("hash", GENESIS_HASH)),
        request=request,
        at=at,
        tier=tier,
        tenant=tenant,
        revision=revision,
        checksum=checksum,
    )


def _numbers(kvs: Sequence[KeyValue]) -> list[int]:
    return [int(kv.key.rsplit(b"/", 1)[1]) for kv in kvs]


def open_etcd_store(url: str, *, app: str | None = None) -> EtcdRevisionStore:
    """The store an ``etcd://`` / ``etcds://`` URL names (see :class:`EtcdConfig`).

    ``app`` (else the URL's ``?app=``, else the project default) picks the key subtree.
    Nothing is sent until the first call.

    Raises:
        StoreUrlError: the URL is malformed (exit 2).
    """
    try:
        config = EtcdConfig.from_url(url)
    except UsageError as exc:
        raise StoreUrlError(f"store URL: {exc}") from exc
    return EtcdRevisionStore(EtcdClient(config), app=app or config.app or default_app())
