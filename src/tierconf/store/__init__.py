"""Revision stores: numbered releases per (tier, tenant) and a hash-chained audit trail.

``open_store(url)`` picks the implementation; every one satisfies :class:`RevisionStore`
and passes the same contract tests (``tests/store/test_contract.py``)::

    RevisionStore (Protocol)
    ├── InMemoryRevisionStore   the twin for tests, nothing persisted
    └── SqliteRevisionStore     the default, sqlite:///.tierconf/store.db
"""

from tierconf.secrets._fingerprint import fingerprint

from ._memory import InMemoryRevisionStore
from ._model import (
    GENESIS_HASH,
    AuditAction,
    AuditEntry,
    AuditReport,
    AuditRequest,
    ReleaseContent,
    Revision,
    RevisionSummary,
    canonical_json,
)
from ._protocol import RevisionStore, append_with_retry
from ._sqlite import SCHEMA_VERSION, SqliteRevisionStore
from ._url import DEFAULT_STORE_URL, open_store

__all__ = [
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
