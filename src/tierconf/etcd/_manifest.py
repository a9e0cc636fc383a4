"""The manifest record: what makes a published release whole, and how a reader checks it. Pure.

A publish writes every changed KEY and the manifest in one etcd transaction, so they share
one ``mod_revision``. The manifest lists the KEYs of the release and a checksum over their
contents; a reader that read the scope's prefix AT the manifest's ``mod_revision``
(or followed the watch up to it) recomputes both with :meth:`Manifest.problem`. A reader
therefore applies a release only when it holds all of it, and never a mix of two.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from tierconf.errors import TierconfError

FORMAT = 1


class ManifestError(TierconfError):
    """A manifest record cannot be read (damaged, or written by a newer tierconf)."""


def digest(value: bytes) -> str:
    """The SHA-256 hex digest of one published value."""
    return hashlib.sha256(value).hexdigest()


def data_checksum(values: Mapping[str, bytes], fingerprints: Mapping[str, str]) -> str:
    """``sha256:`` over every published KEY's content digest and every secret fingerprint.

    Digests of the values, not the values, go into the hash input, so the checksum of a
    release is the same whatever the size of its values and holds no plaintext.
    """
    return checksum_of_digests({key: digest(value) for key, value in values.items()}, fingerprints)


def checksum_of_digests(digests: Mapping[str, str], fingerprints: Mapping[str, str]) -> str:
    """:func:`data_checksum` from digests already computed (a watcher keeps them per KEY)."""
    document = {"keys": dict(digests), "fingerprints": dict(fingerprints)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """One published release of a scope.

    Attributes:
        revision: The tierconf revision published (None for a publish without a store).
        checksum: The release checksum (rendered manifests, secrets fingerprinted).
        data_checksum: :func:`data_checksum` of exactly what was published.
        keys: The KEYs under ``keys/``, sorted.
        fingerprints: Secret KEYs published as fingerprints only (under ``fingerprints/``).
        secret_keys: Every secret KEY, published as a value or as a fingerprint.
        published_at: ISO 8601 UTC.
        message: The release message.
        publish_id: Random id of the publish that wrote it (tells a retried publish it
            already succeeded).
    """

    revision: int | None
    checksum: str
    data_checksum: str
    keys: tuple[str, ...]
    fingerprints: tuple[str, ...] = ()
    secret_keys: tuple[str, ...] = ()
    published_at: str = ""
    message: str = ""
    publish_id: str = ""

    @property
    def label(self) -> str:
        """The id readers show for this release: the revision, else the checksum prefix."""
        if self.revision is not None:
            return str(self.revision)
        return self.checksum.removeprefix("sha256:")[:12]

    def to_json(self) -> bytes:
        """The stored form (compact, sorted JSON)."""
        document = {
            "format": FORMAT,
            "revision": self.revision,
            "checksum": self.checksum,
            "data_checksum": self.data_checksum,
            "keys": list(self.keys),
            "fingerprints": list(self.fingerprints),
            "secret_keys": list(self.secret_keys),
            "published_at": self.published_at,
            "message": self.message,
            "publish_id": self.publish_id,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> Manifest:
        """Read a stored manifest.

        Raises:
            ManifestError: it is not a manifest this tierconf can read; names ``where``.
        """
        try:
            data = json.loads(raw)
            if int(data.get("format", 0)) > FORMAT:
                raise ManifestError(
                    f"{where} was published by a newer tierconf (format {data['format']}); upgrade tierconf"
                )
            return cls(
                revision=None if data["revision"] is None else int(data["revision"]),
                checksum=str(data["checksum"]),
                data_checksum=str(data["data_checksum"]),
                keys=tuple(data["keys"]),
                fingerprints=tuple(data.get("fingerprints", ())),
                secret_keys=tuple(data.get("secret_keys", ())),
                published_at=str(data.get("published_at", "")),
                message=str(data.get("message", "")),
                publish_id=str(data.get("publish_id", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ManifestError(f"{where} is not a tierconf manifest record: {exc!r}") from exc

    def problem(
        self,
        values: Mapping[str, bytes],
        fingerprints: Mapping[str, str],
        digests: Mapping[str, str] | None = None,
    ) -> str | None:
        """Why ``values``/``fingerprints`` (read at this manifest's revision) are not this
        release, or None when they are exactly it. ``digests`` (KEY -> :func:`digest`),
        when the caller keeps them, saves hashing every value again."""
        if set(values) != set(self.keys):
            missing = sorted(set(self.keys) - set(values))
            extra = sorted(set(values) - set(self.keys))
            return f"KEYs differ from the manifest (missing {missing[:5]}, unlisted {extra[:5]})"
        if set(fingerprints) != set(self.fingerprints):
            return "secret fingerprints differ from the manifest"
        if digests is None or digests.keys() != values.keys():
            digests = {key: digest(value) for key, value in values.items()}
        if checksum_of_digests(digests, fingerprints) != self.data_checksum:
            return "KEY contents do not match the manifest's checksum"
        return None
