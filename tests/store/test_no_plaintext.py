"""No stored byte of a SQLite store holds a secret's plaintext or its base64."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from tierconf.store import AuditRequest, ReleaseContent, SqliteRevisionStore, fingerprint

SECRET = "Xq7-correct-horse-battery-staple-91f"


def store_bytes(db: Path) -> bytes:
    """The database file and its -wal and -shm companions, concatenated."""
    companions = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return b"".join(path.read_bytes() for path in companions if path.exists())


def forbidden_forms(secret: str) -> list[bytes]:
    """The plaintext and every base64 spelling Kubernetes or a tool might write."""
    raw = secret.encode()
    return [
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        base64.b64encode(raw).rstrip(b"="),
    ]


def secret_release() -> ReleaseContent:
    """A release whose secret setting and Secret manifest carry only the fingerprint."""
    mark = fingerprint(SECRET)
    return ReleaseContent(
        tier="production",
        tenant="acme",
        checksum="sha256:" + "ab" * 32,
        manifests=(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "spotify-ai-agent-secrets"},
                "data": {"DB_PASSWORD": mark},
            },
        ),
        values={"database.postgres.password": {"value": mark, "layer": "environments"}},
        findings={"error": 0},
        author="alice",
        message="rotate the database password",
        git_commit=None,
        tierconf_version="0.1.0",
    )


class TestNoPlaintext:
    def test_store_files_hold_no_secret(self, tmp_path: Path) -> None:
        """The db, -wal and -shm files hold the fingerprint but never the secret or its
        base64, both while the store is open and after it is closed."""
        db = tmp_path / "store.db"
        store = SqliteRevisionStore(db)
        store.append(
            secret_release(),
            expected_head=None,
            audit=AuditRequest("alice", "release", "rotation"),
        )
        for moment in ("open", "closed"):
            data = store_bytes(db)
            assert fingerprint(SECRET).encode() in data, moment
            for form in forbidden_forms(SECRET):
                assert form not in data, (moment, form)
            store.close()


class TestFingerprint:
    def test_format(self) -> None:
        """A fingerprint is "sha256:" and 16 lowercase hex digits."""
        assert re.fullmatch(r"sha256:[0-9a-f]{16}", fingerprint(SECRET))

    def test_stable(self) -> None:
        """The same value always gives the same fingerprint (stores and processes agree)."""
        assert fingerprint("hunter2-but-longer") == fingerprint("hunter2-but-longer")

    def test_pinned(self) -> None:
        """The algorithm is pinned: revisions stored by older releases still compare."""
        assert fingerprint("s3cret-value") == "sha256:620a66d33128cb04"

    def test_distinguishes_values(self) -> None:
        """Different values give different fingerprints."""
        assert fingerprint("value-one") != fingerprint("value-two")

    def test_does_not_contain_the_value(self) -> None:
        """The fingerprint never embeds the value."""
        assert "secret" not in fingerprint("secret")
