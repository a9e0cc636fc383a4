"""Helper process for tests/store/test_sqlite.py: writes revisions into a SQLite store.

    python _writer.py once DB NAME   open, print "ready", wait for a line on stdin, then
                                     record one revision whose parent is the head it saw
    python _writer.py loop DB        open, print "ready", wait for a line on stdin, then
                                     record ~50 KB revisions until killed

Every revision's checksum is ``sha256(canonical_json(manifests))`` so the test can
recompute it from what was stored.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from functools import partial
from typing import Any

from tierconf.store import (
    AuditRequest,
    ReleaseContent,
    Revision,
    SqliteRevisionStore,
    append_with_retry,
    canonical_json,
)

TIER = "production"


def checksum_of(manifests: tuple[Mapping[str, Any], ...]) -> str:
    """The checksum the writer records, recomputable from the stored manifests."""
    return hashlib.sha256(canonical_json(manifests).encode()).hexdigest()


def content(name: str, head: Revision | None, payload: str = "") -> ReleaseContent:
    """A release named ``name`` whose values remember the head it was built on."""
    manifests: tuple[Mapping[str, Any], ...] = (
        {"kind": "ConfigMap", "metadata": {"name": name}, "data": {"BLOB": payload}},
    )
    parent = 0 if head is None else head.revision
    return ReleaseContent(
        tier=TIER,
        tenant=None,
        checksum=checksum_of(manifests),
        manifests=manifests,
        values={"chain": {"parent": parent, "writer": name}},
        findings={"error": 0},
        author=name,
        message=f"release by {name}",
        git_commit=None,
        tierconf_version="test",
    )


def main(mode: str, db: str, name: str = "loop") -> None:
    store = SqliteRevisionStore(db)
    print("ready", flush=True)
    sys.stdin.readline()
    audit = AuditRequest(actor=name, action="release", reason=f"test {mode}")
    if mode == "once":
        revision = append_with_retry(store, TIER, None, partial(content, name), audit=audit)
        print(revision.revision, flush=True)
        store.close()
        return
    while True:
        append_with_retry(store, TIER, None, partial(content, name, payload=_blob()), audit=audit)


def _blob() -> str:
    """50 KB of fresh text, so each revision takes a while to write."""
    return os.urandom(25_000).hex()


if __name__ == "__main__":
    main(*sys.argv[1:])
