"""``InMemoryRevisionStore``: the twin every test of the core uses instead of a database."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tierconf.errors import StoreError

from ._model import (
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
    lost_race,
    missing_revision,
    next_audit_entry,
    prune_reason,
    utc_timestamp,
    verify_chain,
)


@dataclass(frozen=True, slots=True)
class _Stored:
    revision: int
    created_at: str
    content_json: str
    checksum: str
    audit_seq: int

    def load(self) -> Revision:
        return Revision(self.revision, self.created_at, ReleaseContent.from_json(self.content_json))


class InMemoryRevisionStore:
    """A :class:`~tierconf.store.RevisionStore` held in a dict, safe across threads.

    Content is kept as canonical JSON and decoded on every read, exactly as the durable
    stores do, so callers get fresh objects and non-JSON values fail here too.
    Nothing survives :meth:`close`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revisions: dict[tuple[str, str | None], list[_Stored]] = {}
        self._audit: list[AuditEntry] = []
        self._closed = False

    def head(self, tier: str, tenant: str | None) -> Revision | None:
        """See :meth:`RevisionStore.head`."""
        with self._lock:
            stored = self._scope(tier, tenant)
            return stored[-1].load() if stored else None

    def get(self, tier: str, tenant: str | None, revision: int) -> Revision:
        """See :meth:`RevisionStore.get`."""
        with self._lock:
            stored = self._scope(tier, tenant)
            for item in stored:
                if item.revision == revision:
                    return item.load()
            raise missing_revision(tier, tenant, revision, [item.revision for item in stored])

    def history(self, tier: str, tenant: str | None) -> list[Revision]:
        """See :meth:`RevisionStore.history`."""
        with self._lock:
            return [item.load() for item in self._scope(tier, tenant)]

    def append(
        self,
        content: ReleaseContent,
        *,
        expected_head: int | None,
        audit: AuditRequest,
    ) -> Revision:
        """See :meth:`RevisionStore.append`."""
        check_append_action(audit)
        content_json = content.to_json()
        with self._lock:
            stored = self._scope(content.tier, content.tenant)
            head = stored[-1].revision if stored else None
            if head != expected_head:
                raise lost_race(content.tier, content.tenant, expected_head, head)
            number = 1 if head is None else head + 1
            now = utc_timestamp()
            entry = next_audit_entry(
                self._audit[-1] if self._audit else None,
                audit,
                at=now,
                tier=content.tier,
                tenant=content.tenant,
                revision=number,
                checksum=content.checksum,
            )
            item = _Stored(number, now, content_json, content.checksum, entry.seq)
            self._revisions.setdefault((content.tier, content.tenant), []).append(item)
            self._audit.append(entry)
            return item.load()

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
        with self._lock:
            self._check_open()
            return self._record(request, tier, tenant, revision, checksum)

    def audit_log(self, tier: str | None = None, tenant: str | None = None) -> list[AuditEntry]:
        """See :meth:`RevisionStore.audit_log`."""
        with self._lock:
            self._check_open()
            return [
                entry
                for entry in self._audit
                if (tier is None or entry.tier == tier)
                and (tenant is None or entry.tenant == tenant)
            ]

    def verify_audit(self) -> AuditReport:
        """See :meth:`RevisionStore.verify_audit`."""
        with self._lock:
            self._check_open()
            links = [
                RevisionLink(item.audit_seq, tier, tenant, item.revision, item.checksum)
                for (tier, tenant), stored in self._revisions.items()
                for item in stored
            ]
            return verify_chain(list(self._audit), links, last_seq=len(self._audit))

    def prune(self, tier: str, tenant: str | None, keep: int, *, actor: str = "tierconf") -> int:
        """See :meth:`RevisionStore.prune`."""
        check_keep(keep)
        with self._lock:
            stored = self._scope(tier, tenant)
            removed = stored[:-keep]
            if not removed:
                return 0
            del stored[:-keep]
            self._record(
                AuditRequest(actor, "prune", prune_reason([r.revision for r in removed], keep)),
                tier,
                tenant,
                None,
                None,
            )
            return len(removed)

    def close(self) -> None:
        """See :meth:`RevisionStore.close`."""
        with self._lock:
            self._closed = True
            self._revisions.clear()
            self._audit.clear()

    def _scope(self, tier: str, tenant: str | None) -> list[_Stored]:
        """The revisions of (tier, tenant), oldest first; the lock must be held."""
        self._check_open()
        check_scope(tier, tenant)
        return self._revisions.get((tier, tenant), [])

    def _record(
        self,
        request: AuditRequest,
        tier: str,
        tenant: str | None,
        revision: int | None,
        checksum: str | None,
    ) -> AuditEntry:
        entry = next_audit_entry(
            self._audit[-1] if self._audit else None,
            request,
            at=utc_timestamp(),
            tier=tier,
            tenant=tenant,
            revision=revision,
            checksum=checksum,
        )
        self._audit.append(entry)
        return entry

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the in-memory revision store is closed")
