"""Helper process for test_store.py: records releases into an etcd store, racing others.

    python _releaser.py URL NAME COUNT   open the store, print "ready", wait for a line on
                                         stdin, record COUNT revisions of production (each
                                         remembers the head it was built on), print "done"
"""

from __future__ import annotations

import hashlib
import sys
from functools import partial

from tierconf.store import AuditRequest, ReleaseContent, Revision, append_with_retry, open_store

TIER = "production"


def content(name: str, index: int, head: Revision | None) -> ReleaseContent:
    """Release ``index`` of writer ``name``, built on ``head``."""
    parent = 0 if head is None else head.revision
    return ReleaseContent(
        tier=TIER,
        tenant=None,
        checksum=hashlib.sha256(f"{name}/{index}".encode()).hexdigest(),
        manifests=(),
        values={"chain": {"parent": parent, "writer": name, "index": index}},
        findings={"error": 0},
        author=name,
        message=f"{name} {index}",
        git_commit=None,
        tierconf_version="test",
    )


def main(url: str, name: str, count: str) -> None:
    store = open_store(url)
    print("ready", flush=True)
    sys.stdin.readline()
    audit = AuditRequest(actor=name, action="release", reason="race")
    for index in range(int(count)):
        append_with_retry(store, TIER, None, partial(content, name, index), audit=audit, attempts=500)
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
