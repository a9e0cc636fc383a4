"""The data a revision store keeps: revisions, audit entries, and the audit hash chain.

Everything here is pure (``utc_timestamp`` aside): frozen dataclasses, their canonical
JSON form, and the functions that seal and verify the audit chain. Every store
implementation shares them, so two stores given the same operations agree byte for byte
on what they record.

Canonical JSON (used for stored content and for audit hashes) is
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
allow_nan=False)``, encoded as UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict, cast, get_args

from tierconf.errors import ConcurrentUpdateError, StoreError

AuditAction = Literal["release", "rollback", "deploy", "force", "prune"]
AUDIT_ACTIONS: frozenset[str] = frozenset(get_args(AuditAction))
REVISION_ACTIONS: frozenset[str] = frozenset({"release", "rollback", "force"})
"""Actions that record a new revision (``append``); the others go through ``record_audit``."""

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first audit entry."""


def canonical_json(obj: object) -> str:
    """Serialise ``obj`` as canonical JSON (see the module docstring).

    Any ``Mapping`` is written as an object and any tuple as an array.

    Raises:
        StoreError: ``obj`` holds something JSON cannot represent (a datetime, NaN...).
    """
    try:
        return json.dumps(
            obj,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
            default=_mapping_as_dict,
        )
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"revision content cannot be stored as JSON: {exc}; "
            "render values to strings, numbers, booleans, lists and mappings first"
        ) from exc


def _mapping_as_dict(value: object) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"object of type {type(value).__name__} is not JSON serializable")


def utc_timestamp() -> str:
    """Now, as ISO 8601 UTC with millisecond precision and a ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def describe_scope(tier: str, tenant: str | None) -> str:
    """``production`` or ``production (tenant acme)``, for messages."""
    return tier if tenant is None else f"{tier} (tenant {tenant})"


def check_scope(tier: str, tenant: str | None) -> None:
    """Reject an empty tier or an empty-string tenant (``None`` means no tenant).

    Raises:
        ValueError: the scope is malformed; a programming error, not a user error.
    """
    if not tier:
        raise ValueError("tier must be a non-empty string")
    if tenant == "":
        raise ValueError("tenant must be None (no tenant) or a non-empty string")


@dataclass(frozen=True, slots=True)
class ReleaseContent:
    """What one release records, before the store numbers and timestamps it.

    The caller guarantees that secret values in ``manifests`` and ``values`` are already
    replaced by fingerprints (:func:`tierconf.store.fingerprint`): the store writes what
    it is given. ``values`` maps each setting path to its merged value and provenance;
    ``findings`` counts validation findings by severity.
    """

    tier: str
    tenant: str | None
    checksum: str
    manifests: tuple[Mapping[str, Any], ...]
    values: Mapping[str, Mapping[str, Any]]
    findings: Mapping[str, int]
    author: str
    message: str
    git_commit: str | None
    tierconf_version: str
    rolled_back_from: int | None = None
    forced_reason: str | None = None

    def __post_init__(self) -> None:
        check_scope(self.tier, self.tenant)
        if self.rolled_back_from is not None and self.rolled_back_from < 1:
            raise ValueError("rolled_back_from must be a revision number >= 1")

    def to_json(self) -> str:
        """The canonical JSON the store keeps (see the module docstring)."""
        return canonical_json(
            {
                "tier": self.tier,
                "tenant": self.tenant,
                "checksum": self.checksum,
                "manifests": self.manifests,
                "values": self.values,
                "findings": self.findings,
                "author": self.author,
                "message": self.message,
                "git_commit": self.git_commit,
                "tierconf_version": self.tierconf_version,
                "rolled_back_from": self.rolled_back_from,
                "forced_reason": self.forced_reason,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ReleaseContent:
        """Rebuild content written by :meth:`to_json`.

        Raises:
            StoreError: ``text`` is not content this module wrote (a damaged store).
        """
        try:
            data = json.loads(text)
            return cls(
                tier=data["tier"],
                tenant=data["tenant"],
                checksum=data["checksum"],
                manifests=tuple(data["manifests"]),
                values=data["values"],
                findings=data["findings"],
                author=data["author"],
                message=data["message"],
                git_commit=data["git_commit"],
                tierconf_version=data["tierconf_version"],
                rolled_back_from=data["rolled_back_from"],
                forced_reason=data["forced_reason"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"stored revision content is damaged: {exc!r}") from exc


class RevisionSummary(TypedDict):
    """One item of ``tierconf history --format json`` (CONTRACT.md)."""

    revision: int
    created_at: str
    author: str
    message: str
    checksum: str
    rolled_back_from: int | None


@dataclass(frozen=True, slots=True)
class Revision:
    """A recorded release: its number within (tier, tenant), when, and what.

    ``revision`` counts 1, 2, 3... per (tier, tenant) and is never reused, even after
    pruning. ``created_at`` is ISO 8601 UTC ending in ``Z``.
    """

    revision: int
    created_at: str
    content: ReleaseContent

    def summary(self) -> RevisionSummary:
        """The history JSON item of CONTRACT.md, with exactly its six keys."""
        return {
            "revision": self.revision,
            "created_at": self.created_at,
            "author": self.content.author,
            "message": self.content.message,
            "checksum": self.content.checksum,
            "rolled_back_from": self.content.rolled_back_from,
        }


@dataclass(frozen=True, slots=True)
class AuditRequest:
    """Who does what and why; the store adds when, the scope and the chain links."""

    actor: str
    action: AuditAction
    reason: str

    def __post_init__(self) -> None:
        if self.action not in AUDIT_ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}")
        if not self.actor:
            raise ValueError("an audit entry needs an actor")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One link of the audit chain.

    ``hash`` is the SHA-256 hex digest of the canonical JSON of an object holding every
    other field under its own name (``seq``, ``at``, ``actor``, ``action``, ``tier``,
    ``tenant``, ``revision``, ``checksum``, ``reason``, ``prev_hash``). ``prev_hash`` is
    the previous entry's ``hash``, or :data:`GENESIS_HASH` for ``seq == 1``. ``seq``
    counts 1, 2, 3... across the whole store.
    """

    seq: int
    at: str
    actor: str
    action: AuditAction
    tier: str
    tenant: str | None
    revision: int | None
    checksum: str | None
    reason: str
    prev_hash: str
    hash: str

    def chained_fields(self) -> dict[str, Any]:
        """Every field but ``hash``, by name: what the hash covers (and what a store that
        keeps records as documents writes beside it)."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "tier": self.tier,
            "tenant": self.tenant,
            "revision": self.revision,
            "checksum": self.checksum,
            "reason": self.reason,
            "prev_hash": self.prev_hash,
        }

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> AuditEntry:
        """The entry a stored document holds (:meth:`chained_fields` plus ``hash``).

        An unknown action is kept as read: ``verify_audit`` then reports the entry as altered.

        Raises:
            KeyError, TypeError, ValueError: a field is missing or malformed.
        """
        return cls(
            seq=int(data["seq"]),
            at=data["at"],
            actor=data["actor"],
            action=cast(AuditAction, data["action"]),
            tier=data["tier"],
            tenant=data["tenant"],
            revision=data["revision"],
            checksum=data["checksum"],
            reason=data["reason"],
            prev_hash=data["prev_hash"],
            hash=data["hash"],
        )

    def compute_hash(self) -> str:
        """The hash this entry should carry, recomputed from its other fields."""
        return hashlib.sha256(canonical_json(self.chained_fields()).encode("utf-8")).hexdigest()


def next_audit_entry(
    previous: AuditEntry | None,
    request: AuditRequest,
    *,
    at: str,
    tier: str,
    tenant: str | None,
    revision: int | None,
    checksum: str | None,
) -> AuditEntry:
    """Seal the entry that follows ``previous`` (``None`` for the first entry)."""
    return seal_audit_entry(
        seq=1 if previous is None else previous.seq + 1,
        prev_hash=GENESIS_HASH if previous is None else previous.hash,
        request=request,
        at=at,
        tier=tier,
        tenant=tenant,
        revision=revision,
        checksum=checksum,
    )


def seal_audit_entry(
    *,
    seq: int,
    prev_hash: str,
    request: AuditRequest,
    at: str,
    tier: str,
    tenant: str | None,
    revision: int | None,
    checksum: str | None,
) -> AuditEntry:
    """The entry number ``seq`` chained to ``prev_hash``, with its hash (for stores that
    keep the chain's head as a record rather than the previous entry)."""
    unsealed = AuditEntry(
        seq=seq,
        at=at,
        actor=request.actor,
        action=request.action,
        tier=tier,
        tenant=tenant,
        revision=revision,
        checksum=checksum,
        reason=request.reason,
        prev_hash=prev_hash,
        hash="",
    )
    return replace(unsealed, hash=unsealed.compute_hash())


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The outcome of recomputing the audit chain.

    ``first_bad_seq`` names the first altered or missing entry and ``problem`` says what
    is wrong with it; both are ``None`` when ``ok``.
    """

    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None


@dataclass(frozen=True, slots=True)
class RevisionLink:
    """A stored revision and the audit entry that recorded it, as the store remembers."""

    audit_seq: int
    tier: str
    tenant: str | None
    revision: int
    checksum: str


def verify_chain(
    entries: Sequence[AuditEntry],
    links: Iterable[RevisionLink],
    *,
    last_seq: int | None,
) -> AuditReport:
    """Recompute the chain and cross-check it against the revisions still stored.

    Detects an altered entry (its hash), a removed or reordered entry (a gap in ``seq`` or
    a broken ``prev_hash``), a truncated tail (``last_seq``, the highest sequence number
    the store remembers issuing, or a stored revision whose recording entry is gone), and
    an entry that no longer matches the revision it recorded.

    Args:
        entries: every audit entry, in ``seq`` order.
        links: one per stored revision.
        last_seq: the highest ``seq`` ever issued (``None`` if the store keeps no count).
    """
    problems: list[tuple[int, str]] = []
    by_seq: dict[int, AuditEntry] = {}
    prev_hash = GENESIS_HASH
    for expected_seq, entry in enumerate(entries, start=1):
        if entry.seq != expected_seq:
            problems.append(
                (expected_seq, f"entry {expected_seq} is missing (found entry {entry.seq} next)")
            )
            break
        if entry.hash != entry.compute_hash():
            problems.append((entry.seq, f"entry {entry.seq} was altered: its hash does not match"))
            break
        if entry.prev_hash != prev_hash:
            problems.append(
                (entry.seq, f"entry {entry.seq} does not chain to entry {entry.seq - 1}")
            )
            break
        by_seq[entry.seq] = entry
        prev_hash = entry.hash
    if last_seq is not None and not problems and last_seq > len(entries):
        missing = len(entries) + 1
        problems.append((missing, f"entry {missing} is missing (the trail ends early)"))
    # Only entries before the first chain problem are trusted (all of them are in by_seq),
    # so links are checked against those alone.
    chain_broken = bool(problems)
    trusted_below = problems[0][0] if problems else len(entries) + 1
    for link in links:
        scope = f"revision {link.revision} of {describe_scope(link.tier, link.tenant)}"
        recorded = by_seq.get(link.audit_seq)
        if recorded is None:
            if link.audit_seq < trusted_below or not chain_broken:
                problems.append(
                    (link.audit_seq, f"entry {link.audit_seq} recording {scope} is missing")
                )
        elif (recorded.tier, recorded.tenant, recorded.revision, recorded.checksum) != (
            link.tier,
            link.tenant,
            link.revision,
            link.checksum,
        ):
            problems.append((link.audit_seq, f"entry {link.audit_seq} does not match {scope}"))
    if not problems:
        return AuditReport(ok=True, entries=len(entries), first_bad_seq=None, problem=None)
    seq, problem = min(problems)
    return AuditReport(ok=False, entries=len(entries), first_bad_seq=seq, problem=problem)


def missing_revision(
    tier: str, tenant: str | None, revision: int, existing: Sequence[int]
) -> StoreError:
    """The error for :meth:`RevisionStore.get` of a revision that is not stored."""
    scope = describe_scope(tier, tenant)
    if not existing:
        return StoreError(
            f"revision {revision} of {scope} does not exist: no revision of {scope} "
            "is recorded yet; run `tierconf release` first",
            tenant=tenant,
        )
    return StoreError(
        f"revision {revision} of {scope} does not exist; stored revisions: {_ranges(existing)}",
        tenant=tenant,
    )


def _ranges(numbers: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``1-3, 5``."""
    spans: list[list[int]] = []
    for number in sorted(numbers):
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def lost_race(
    tier: str, tenant: str | None, expected_head: int | None, actual_head: int | None
) -> ConcurrentUpdateError:
    """The error for an append whose ``expected_head`` is not the current head."""

    def show(head: int | None) -> str:
        return "no revision" if head is None else f"revision {head}"

    return ConcurrentUpdateError(
        f"{describe_scope(tier, tenant)} moved: expected its head to be "
        f"{show(expected_head)} but it is {show(actual_head)}; another release was "
        "recorded first, re-read the head and retry",
        tenant=tenant,
    )


def check_append_action(request: AuditRequest) -> None:
    """Reject an audit action that does not record a revision.

    Raises:
        ValueError: a programming error in the caller.
    """
    if request.action not in REVISION_ACTIONS:
        raise ValueError(
            f"append records release, rollback or force, not {request.action!r}; use record_audit"
        )


def check_record_action(request: AuditRequest) -> None:
    """Reject an audit action that must come with a revision (use ``append``).

    Raises:
        ValueError: a programming error in the caller.
    """
    if request.action in {"release", "rollback"}:
        raise ValueError(f"a {request.action} records a revision; use append")


def check_keep(keep: int) -> None:
    """Reject a retention below one revision.

    Raises:
        ValueError: ``keep`` < 1; ``--max-history 0`` must mean "no pruning" upstream.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the head is never pruned), got {keep}")


def prune_reason(removed: Sequence[int], keep: int) -> str:
    """The ``reason`` of a prune audit entry."""
    return f"pruned revisions {_ranges(removed)}, keeping the newest {keep}"
