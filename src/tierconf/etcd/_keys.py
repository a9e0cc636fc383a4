"""The key layout tierconf uses in etcd, in one place. Pure.

::

    <prefix>/<app>/revisions/<tier>/<tenant|_>/<000000042>   one revision (JSON record)
    <prefix>/<app>/heads/<tier>/<tenant|_>                   {"revision": 42}: the CAS anchor
    <prefix>/<app>/audit/entries/<000000007>                 one audit entry (JSON)
    <prefix>/<app>/audit/head                                {"seq": 7, "hash": ...}
    <prefix>/<app>/live/<tier>/<tenant|_>/manifest           the published release (JSON)
    <prefix>/<app>/live/<tier>/<tenant|_>/objects            per object: manifest sans data, KEYs
    <prefix>/<app>/live/<tier>/<tenant|_>/keys/<KEY>         one published value, raw bytes
    <prefix>/<app>/live/<tier>/<tenant|_>/fingerprints/<KEY> a secret's fingerprint, when its
                                                             value is not published

``_`` stands for "no tenant" (a tenant id never is ``_``). Numbers are zero-padded to nine
digits so that key order is numeric order: the newest revision is the last key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NO_TENANT = "_"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DIGITS = 9


def segment(value: str, what: str) -> str:
    """``value`` checked as one key segment.

    Raises:
        ValueError: it is empty or holds ``/`` or other characters a key segment cannot.
    """
    if not _SEGMENT.match(value):
        raise ValueError(f"{what} {value!r} cannot be an etcd key segment (letters, digits, . _ -)")
    return value


def number(value: int) -> str:
    """A revision or sequence number as its fixed-width key segment."""
    return f"{value:0{_DIGITS}d}"


@dataclass(frozen=True)
class AppKeys:
    """Keys of one application under one root prefix."""

    prefix: str
    app: str

    def __post_init__(self) -> None:
        segment(self.app, "app name")

    @property
    def root(self) -> str:
        """``<prefix>/<app>``."""
        return f"{self.prefix}/{self.app}"

    def scope(self, tier: str, tenant: str | None) -> str:
        """``<tier>/<tenant|_>``."""
        tenant_part = NO_TENANT if tenant is None else segment(tenant, "tenant")
        return f"{segment(tier, 'tier')}/{tenant_part}"

    def revisions(self, tier: str, tenant: str | None) -> bytes:
        """The prefix of every revision record of (tier, tenant), trailing slash included."""
        return f"{self.root}/revisions/{self.scope(tier, tenant)}/".encode()

    def revision(self, tier: str, tenant: str | None, revision: int) -> bytes:
        """One revision record."""
        return self.revisions(tier, tenant) + number(revision).encode()

    def head(self, tier: str, tenant: str | None) -> bytes:
        """The head pointer of (tier, tenant), compared on every append."""
        return f"{self.root}/heads/{self.scope(tier, tenant)}".encode()

    @property
    def all_revisions(self) -> bytes:
        """The prefix of every revision record of the app."""
        return f"{self.root}/revisions/".encode()

    @property
    def audit_entries(self) -> bytes:
        """The prefix of every audit entry."""
        return f"{self.root}/audit/entries/".encode()

    def audit_entry(self, seq: int) -> bytes:
        """One audit entry."""
        return self.audit_entries + number(seq).encode()

    @property
    def audit_head(self) -> bytes:
        """The audit chain's head (last seq and hash), compared on every append."""
        return f"{self.root}/audit/head".encode()

    def live(self, tier: str, tenant: str | None) -> LiveKeys:
        """The published-configuration keys of (tier, tenant)."""
        return LiveKeys(f"{self.root}/live/{self.scope(tier, tenant)}/")


@dataclass(frozen=True)
class LiveKeys:
    """Keys of one published scope; ``base`` ends with ``/``."""

    base: str

    @property
    def prefix(self) -> bytes:
        """Everything of the scope (manifest, keys, fingerprints)."""
        return self.base.encode()

    @property
    def manifest(self) -> bytes:
        """The manifest record: written last, in the same transaction as the keys."""
        return (self.base + "manifest").encode()

    @property
    def objects(self) -> bytes:
        """Per rendered object, its manifest without data and its KEYs (for plan and drift;
        watchers never read it, so the manifest they parse on every release stays small)."""
        return (self.base + "objects").encode()

    @property
    def keys(self) -> bytes:
        """The prefix of published values."""
        return (self.base + "keys/").encode()

    @property
    def fingerprints(self) -> bytes:
        """The prefix of secret fingerprints (values not published)."""
        return (self.base + "fingerprints/").encode()

    def key(self, name: str) -> bytes:
        """One published KEY."""
        return self.keys + name.encode()

    def fingerprint(self, name: str) -> bytes:
        """One secret fingerprint."""
        return self.fingerprints + name.encode()

    def classify(self, key: bytes) -> tuple[str, str] | None:
        """``("keys"|"fingerprints"|"manifest", NAME)`` of a key under :attr:`prefix`."""
        text = key.decode("utf-8", "replace")
        if not text.startswith(self.base):
            return None
        rest = text[len(self.base) :]
        if rest in ("manifest", "objects"):
            return rest, ""
        kind, slash, name = rest.partition("/")
        if slash and kind in ("keys", "fingerprints") and name:
            return kind, name
        return None
