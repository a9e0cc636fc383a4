"""The ``RevisionStore`` boundary and the compare-and-swap retry loop built on it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Protocol

from tierconf.errors import ConcurrentUpdateError

from ._model import AuditEntry, AuditReport, AuditRequest, ReleaseContent, Revision


class RevisionStore(Protocol):
    """Numbered revisions per (tier, tenant) plus one hash-chained audit trail.

    Every implementation (in-memory, SQLite, etcd) passes the same contract tests. A
    ``tenant`` of ``None`` means the tier itself; tenants are numbered independently.
    Errors are :class:`~tierconf.errors.StoreError` or one of its subclasses. A store
    is closed with :meth:`close`; any call after that raises ``StoreError``.
    """

    def head(self, tier: str, tenant: str | None) -> Revision | None:
        """The newest revision of (tier, tenant), or ``None`` if none was recorded."""
        ...

    def get(self, tier: str, tenant: str | None, revision: int) -> Revision:
        """One revision.

        Raises:
            StoreError: it does not exist (never recorded or pruned); the message lists
                the revisions that do.
        """
        ...

    def history(self, tier: str, tenant: str | None) -> list[Revision]:
        """Every stored revision of (tier, tenant), oldest first (empty if none)."""
        ...

    def append(
        self,
        content: ReleaseContent,
        *,
        expected_head: int | None,
        audit: AuditRequest,
    ) -> Revision:
        """Record ``content`` as the next revision of its (tier, tenant), atomically.

        In one transaction: check that the current head revision number equals
        ``expected_head`` (``None``: no revision yet), write the revision numbered
        head + 1, and append its audit entry (scope, revision and checksum taken from
        ``content``). Either both are stored or neither is.

        Raises:
            ConcurrentUpdateError: the head is not ``expected_head``; nothing was written.
            ValueError: ``audit.action`` is not release, rollback or force.
        """
        ...

    def record_audit(
        self,
        request: AuditRequest,
        *,
        tier: str,
        tenant: str | None,
        revision: int | None = None,
        checksum: str | None = None,
    ) -> AuditEntry:
        """Append an audit entry for an action that records no revision (deploy, prune,
        a forced action).

        Raises:
            ValueError: ``request.action`` is release or rollback (those go through
                :meth:`append`).
        """
        ...

    def audit_log(self, tier: str | None = None, tenant: str | None = None) -> list[AuditEntry]:
        """Audit entries in ``seq`` order, filtered by tier and by tenant when given.

        ``None`` means "any" for both filters, so ``audit_log("production")`` includes
        the production entries of every tenant.
        """
        ...

    def verify_audit(self) -> AuditReport:
        """Recompute the whole chain and name the first altered or missing entry."""
        ...

    def prune(self, tier: str, tenant: str | None, keep: int, *, actor: str = "tierconf") -> int:
        """Delete all but the newest ``keep`` revisions of (tier, tenant).

        Numbers are never reused: the next append continues after the head. When
        something is deleted, a ``prune`` audit entry by ``actor`` records it.

        Returns:
            How many revisions were deleted.

        Raises:
            ValueError: ``keep`` is below 1 (the head is never pruned).
        """
        ...

    def close(self) -> None:
        """Release the store's resources; closing twice is harmless."""
        ...


def append_with_retry(
    store: RevisionStore,
    tier: str,
    tenant: str | None,
    build: Callable[[Revision | None], ReleaseContent],
    *,
    audit: AuditRequest,
    attempts: int = 50,
) -> Revision:
    """Read the head, build content from it, and append it with compare-and-swap.

    When another writer records a revision first, ``build`` is called again with the new
    head, after a jittered exponential backoff, up to ``attempts`` times. ``build`` must
    therefore be cheap and free of side effects. This is what serialises concurrent
    releases of one tier without a lost update.

    Raises:
        ConcurrentUpdateError: every attempt lost the race.
        ValueError: ``build`` returned content for another (tier, tenant), or
            ``attempts`` is below 1.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        head = store.head(tier, tenant)
        content = build(head)
        if (content.tier, content.tenant) != (tier, tenant):
            raise ValueError(
                f"build returned content for {content.tier}/{content.tenant}, "
                f"expected {tier}/{tenant}"
            )
        try:
            return store.append(
                content, expected_head=None if head is None else head.revision, audit=audit
            )
        except ConcurrentUpdateError:
            if attempt == attempts - 1:
                raise
            # Full jitter spreads competing writers apart instead of retrying in lockstep.
            time.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))  # noqa: S311 - not crypto
    raise AssertionError("unreachable: the last attempt returns or raises")
