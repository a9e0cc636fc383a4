"""``fingerprint``: what a stored revision keeps in place of a secret value."""

from __future__ import annotations

import hashlib

_DOMAIN = b"tierconf-secret-fingerprint:"


def fingerprint(value: str) -> str:
    """A short, stable digest of a secret value, for change detection only.

    ``"sha256:"`` followed by the first 16 hex digits of SHA-256 over a fixed domain
    prefix and the UTF-8 value. It is the same in every store and process, so two
    revisions (or a revision and a live target) can be compared without the plaintext.

    It is unsalted and fast on purpose: it protects long random secrets, but a short or
    guessable value can be recovered from it by trying candidates. Weak secrets are a
    validation finding, not something this digest hides.
    """
    return "sha256:" + hashlib.sha256(_DOMAIN + value.encode("utf-8")).hexdigest()[:16]
