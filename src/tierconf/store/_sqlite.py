"""``SqliteRevisionStore``: the default store, one SQLite file (``.tierconf/store.db``).

Durability is the point of this module. The database runs in WAL mode with
``synchronous=FULL``, so a committed release survives a power cut and a process killed at
any instant (``kill -9``) leaves either the whole revision with its audit entry or
neither. Writers take the write lock up front (``BEGIN IMMEDIATE``) and wait for it up to
``timeout`` seconds, so concurrent processes serialise instead of failing; the head check
inside that transaction is the compare-and-swap of :meth:`RevisionStore.append`.

The schema carries its version in ``meta.schema_version`` and is upgraded by the ordered
migrations in :data:`MIGRATIONS`, each applied in one transaction. A store written by a
newer tierconf is refused rather than guessed at.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from tierconf.errors import StoreError, StoreVersionError

from ._model import (
    AuditAction,
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

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the initial schema. Tenant None is stored as '' because SQL treats NULLs as
    # distinct, which would let the UNIQUE constraint admit two "revision 3"s of a tier.
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE revisions (
            id INTEGER PRIMARY KEY,
            tier TEXT NOT NULL,
            tenant TEXT NOT NULL,
            revision INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            checksum TEXT NOT NULL,
            audit_seq INTEGER NOT NULL,
            content TEXT NOT NULL,
            UNIQUE (tier, tenant, revision)
        )""",
        """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            tier TEXT NOT NULL,
            tenant TEXT NOT NULL,
            revision INTEGER,
            checksum TEXT,
            reason TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        "CREATE INDEX audit_scope ON audit (tier, tenant, seq)",
    ),
)
"""Ordered schema migrations; migration ``i`` (0-based) brings the schema to ``i + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The newest schema this tierconf reads and writes."""

_AUDIT_COLUMNS = "seq, at, actor, action, tier, tenant, revision, checksum, reason, prev_hash, hash"
_AuditRow = tuple[int, str, str, str, str, str, int | None, str | None, str, str, str]


class SqliteRevisionStore:
    """A :class:`~tierconf.store.RevisionStore` in one SQLite file, safe across processes.

    Opening creates the parent directory (mode 0700) and the file (mode 0600) if missing,
    switches the database to WAL and applies pending migrations. One instance may be
    shared by threads; separate processes each open their own.

    Raises:
        StoreVersionError: the file was written by a newer schema than this tierconf knows.
        StoreError: the file cannot be created or opened, is not a tierconf store, or
            stays locked by another process for longer than ``timeout`` seconds.
    """

    def __init__(self, path: Path | str, *, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        _create_private_file(self.path)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, the module must not.
            conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the revision store at {self.path}: {exc}") from exc
        try:
            self._open(conn, timeout)
        except sqlite3.Error as exc:
            conn.close()
            raise self._translate(exc) from exc
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    def _open(self, conn: sqlite3.Connection, timeout: float) -> None:
        """Switch to WAL and migrate, waiting up to ``timeout`` seconds for other processes.

        SQLite answers "database is locked" at once, without its busy handler, when several
        connections race to switch a new file to WAL or to upgrade a read to a write: the
        first releases on a fresh checkout (eight in the tests) get it. Retried here.
        """
        deadline = time.monotonic() + timeout
        pause = 0.005
        while True:
            try:
                self._configure(conn)
                self._migrate(conn)
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() + pause > deadline:
                    raise
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                time.sleep(pause * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not crypto
                pause = min(pause * 2, 0.2)
            else:
                return

    def head(self, tier: str, tenant: str | None) -> Revision | None:
        """See :meth:`RevisionStore.head`."""
        check_scope(tier, tenant)
        with self._reading() as conn:
            row = conn.execute(
                "SELECT revision, created_at, content FROM revisions"
                " WHERE tier = ? AND tenant = ? ORDER BY revision DESC LIMIT 1",
                (tier, _db_tenant(tenant)),
            ).fetchone()
        return None if row is None else _revision(row)

    def get(self, tier: str, tenant: str | None, revision: int) -> Revision:
        """See :meth:`RevisionStore.get`."""
        check_scope(tier, tenant)
        with self._reading() as conn:
            row = conn.execute(
                "SELECT revision, created_at, content FROM revisions"
                " WHERE tier = ? AND tenant = ? AND revision = ?",
                (tier, _db_tenant(tenant), revision),
            ).fetchone()
            if row is None:
                existing = _revision_numbers(conn, tier, tenant)
                raise missing_revision(tier, tenant, revision, existing)
        return _revision(row)

    def history(self, tier: str, tenant: str | None) -> list[Revision]:
        """See :meth:`RevisionStore.history`."""
        check_scope(tier, tenant)
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT revision, created_at, content FROM revisions"
                " WHERE tier = ? AND tenant = ? ORDER BY revision",
                (tier, _db_tenant(tenant)),
            ).fetchall()
        return [_revision(row) for row in rows]

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
        tenant = _db_tenant(content.tenant)
        with self._writing() as conn:
            row = conn.execute(
                "SELECT MAX(revision) FROM revisions WHERE tier = ? AND tenant = ?",
                (content.tier, tenant),
            ).fetchone()
            head: int | None = row[0]
            if head != expected_head:
                raise lost_race(content.tier, content.tenant, expected_head, head)
            number = 1 if head is None else head + 1
            created_at = utc_timestamp()
            entry = _append_audit(
                conn,
                audit,
                at=created_at,
                tier=content.tier,
                tenant=content.tenant,
                revision=number,
                checksum=content.checksum,
            )
            conn.execute(
                "INSERT INTO revisions"
                " (tier, tenant, revision, created_at, checksum, audit_seq, content)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    content.tier,
                    tenant,
                    number,
                    created_at,
                    content.checksum,
                    entry.seq,
                    content_json,
                ),
            )
        return Revision(number, created_at, ReleaseContent.from_json(content_json))

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
        with self._writing() as conn:
            return _append_audit(
                conn,
                request,
                at=utc_timestamp(),
                tier=tier,
                tenant=tenant,
                revision=revision,
                checksum=checksum,
            )

    def audit_log(self, tier: str | None = None, tenant: str | None = None) -> list[AuditEntry]:
        """See :meth:`RevisionStore.audit_log`."""
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit"  # noqa: S608 - a constant, not input
                " WHERE (?1 IS NULL OR tier = ?1) AND (?2 IS NULL OR tenant = ?2)"
                " ORDER BY seq",
                (tier, tenant),
            ).fetchall()
        return [_audit_entry(row) for row in rows]

    def verify_audit(self) -> AuditReport:
        """See :meth:`RevisionStore.verify_audit`."""
        with self._reading(snapshot=True) as conn:
            rows = conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit ORDER BY seq"  # noqa: S608 - a constant
            ).fetchall()
            links = [
                RevisionLink(seq, tier, _py_tenant(tenant), revision, checksum)
                for seq, tier, tenant, revision, checksum in conn.execute(
                    "SELECT audit_seq, tier, tenant, revision, checksum FROM revisions"
                )
            ]
            last = conn.execute("SELECT value FROM meta WHERE key = 'audit_last_seq'").fetchone()
        entries = [_audit_entry(row) for row in rows]
        try:
            last_seq = None if last is None else int(last[0])
        except ValueError:
            problem = f"meta.audit_last_seq was altered (it holds {last[0]!r})"
            return AuditReport(ok=False, entries=len(entries), first_bad_seq=None, problem=problem)
        return verify_chain(entries, links, last_seq=last_seq)

    def prune(self, tier: str, tenant: str | None, keep: int, *, actor: str = "tierconf") -> int:
        """See :meth:`RevisionStore.prune`."""
        check_keep(keep)
        check_scope(tier, tenant)
        with self._writing() as conn:
            numbers = _revision_numbers(conn, tier, tenant)
            removed = numbers[:-keep]
            if not removed:
                return 0
            conn.execute(
                "DELETE FROM revisions WHERE tier = ? AND tenant = ? AND revision <= ?",
                (tier, _db_tenant(tenant), removed[-1]),
            )
            request = AuditRequest(actor, "prune", prune_reason(removed, keep))
            _append_audit(
                conn,
                request,
                at=utc_timestamp(),
                tier=tier,
                tenant=tenant,
                revision=None,
                checksum=None,
            )
        return len(removed)

    def close(self) -> None:
        """See :meth:`RevisionStore.close`. The last connection to close checkpoints the WAL."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __repr__(self) -> str:
        return f"SqliteRevisionStore({str(self.path)!r})"

    def _configure(self, conn: sqlite3.Connection) -> None:
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode).lower() != "wal":
            raise StoreError(
                f"cannot use {self.path} as a revision store: SQLite refused WAL mode "
                f"(journal mode {mode!r}); put the store on a local filesystem"
            )
        # FULL also syncs the WAL on every commit: NORMAL could lose the last releases.
        conn.execute("PRAGMA synchronous = FULL")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if _schema_version(conn, self.path) == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = _schema_version(conn, self.path)
            for statements in MIGRATIONS[current:]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _reading(self, *, snapshot: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; ``snapshot`` makes several reads consistent."""
        with self._lock:
            conn = self._open_connection()
            try:
                if snapshot:
                    conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._translate(exc) from exc

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding SQLite's write lock; commits unless the body raises."""
        with self._lock:
            conn = self._open_connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise self._translate(exc) from exc

    def _open_connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the revision store at {self.path} is closed")
        return self._conn

    def _translate(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StoreError(
                f"the revision store at {self.path} is locked by another process: {text}; "
                "retry when the other tierconf command has finished"
            )
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
            return StoreError(f"{self.path} is not a tierconf revision store: {text}")
        return StoreError(f"the revision store at {self.path} failed: {text}")


def _create_private_file(path: Path) -> None:
    """Create the parent directory (0700) and the database file (0600) if missing.

    SQLite gives its -wal and -shm files the database file's permissions, so creating the
    file ourselves first keeps all three private whatever the umask.
    """
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    except OSError as exc:
        raise StoreError(f"cannot create the revision store at {path}: {exc}") from exc


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The store's schema version (0 for a new file).

    Raises:
        StoreVersionError: the version is newer than :data:`SCHEMA_VERSION`.
        StoreError: the file is another application's database or ``meta`` is damaged.
    """
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    if "meta" not in tables:
        if tables:
            raise StoreError(f"{path} is an SQLite database but not a tierconf revision store")
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        version = int(row[0])
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"the revision store at {path} is damaged: meta.schema_version is {row!r}"
        ) from exc
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"store at {path} was written by a newer tierconf (schema {version}, "
            f"this tierconf knows {SCHEMA_VERSION}); upgrade tierconf"
        )
    return version


def _append_audit(
    conn: sqlite3.Connection,
    request: AuditRequest,
    *,
    at: str,
    tier: str,
    tenant: str | None,
    revision: int | None,
    checksum: str | None,
) -> AuditEntry:
    """Chain and insert the next audit entry; the caller holds the write transaction."""
    row = conn.execute(
        f"SELECT {_AUDIT_COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1"  # noqa: S608 - constant
    ).fetchone()
    entry = next_audit_entry(
        None if row is None else _audit_entry(row),
        request,
        at=at,
        tier=tier,
        tenant=tenant,
        revision=revision,
        checksum=checksum,
    )
    conn.execute(
        f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        (
            entry.seq,
            entry.at,
            entry.actor,
            entry.action,
            entry.tier,
            _db_tenant(entry.tenant),
            entry.revision,
            entry.checksum,
            entry.reason,
            entry.prev_hash,
            entry.hash,
        ),
    )
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_last_seq', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(entry.seq),),
    )
    return entry


def _revision_numbers(conn: sqlite3.Connection, tier: str, tenant: str | None) -> list[int]:
    return [
        number
        for (number,) in conn.execute(
            "SELECT revision FROM revisions WHERE tier = ? AND tenant = ? ORDER BY revision",
            (tier, _db_tenant(tenant)),
        )
    ]


def _revision(row: Sequence[object]) -> Revision:
    number, created_at, content = row
    return Revision(
        cast(int, number), cast(str, created_at), ReleaseContent.from_json(cast(str, content))
    )


def _audit_entry(row: _AuditRow) -> AuditEntry:
    seq, at, actor, action, tier, tenant, revision, checksum, reason, prev_hash, hash_ = row
    # An unknown action is kept as read: verify_audit then reports the entry as altered.
    return AuditEntry(
        seq,
        at,
        actor,
        cast(AuditAction, action),
        tier,
        _py_tenant(tenant),
        revision,
        checksum,
        reason,
        prev_hash,
        hash_,
    )


def _db_tenant(tenant: str | None) -> str:
    return "" if tenant is None else tenant


def _py_tenant(tenant: str) -> str | None:
    return None if tenant == "" else tenant
