"""Secret-leak detection in every ConfigMap-bound value.

ConfigMaps are readable by anyone who can read the namespace, are shown by
``kubectl describe`` and end up in backups and GitOps repositories. Every non-secret
setting and every flag field is scanned with :func:`tierconf.rules._detect.find_secrets`;
what looks like a credential is reported with its kind and a fingerprint, never the value.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from tierconf.pipeline import ResolvedConfig
from tierconf.render._values import get_path, render_scalar
from tierconf.rules._detect import (
    CODE_ENTROPY,
    CODE_KEYWORD,
    CODE_PRIVATE_KEY,
    CODE_TOKEN,
    CODE_URL,
    SecretMatch,
    find_secrets,
)
from tierconf.rules._engine import RuleContext, RuleHit, RuleSet, label, tiers
from tierconf.schema._registry import registry

LEAKS = RuleSet("leaks")
LEAK_SEVERITY = tiers("warning", "warning", "error", "error")
_FLAG_TEXT_FIELDS = ("description", "owner", "allow_tenants", "deny_tenants")
_CITATION = (
    "OWASP ASVS 4.0.3 V2.10.4 and V6.4.1; ASVS 5.0 V13.3.1; Kubernetes documentation, "
    "ConfigMaps (not for confidential data)"
)
_MOVE = (
    "move the value into a secret setting (a Secret, via TIERCONF_SECRET_<KEY> or "
    "--secrets-dir), rotate it since it was exposed, and keep only a reference here"
)


@dataclass(frozen=True, slots=True)
class Leak:
    """A credential-looking span in one ConfigMap-bound value."""

    path: str
    value: str
    match: SecretMatch
    item: str | None = None

    @property
    def secret(self) -> str:
        """The leaked text (only ever used to mask it)."""
        return self.match.text(self.value)


def _values(resolved: ResolvedConfig) -> Iterator[tuple[str, str, str, bool]]:
    """``(path, name, text, is_list_item)`` for every ConfigMap-bound string."""
    config = resolved.config
    for spec in registry().settings:
        if spec.secret or spec.type.kind not in ("str",):
            continue
        value = get_path(config, spec.path)
        if value is None:
            continue
        if spec.type.sequence:
            for item in value:
                yield spec.path, spec.key, str(item), True
        else:
            yield spec.path, spec.key, render_scalar(value), False
    for name, flag in config.flags.items():
        for field in _FLAG_TEXT_FIELDS:
            value = getattr(flag, field)
            path = f"flags.{name}.{field}"
            if isinstance(value, tuple):
                for item in value:
                    yield path, field, str(item), True
            elif value:
                yield path, field, str(value), False


_LAST_SCAN: tuple[ResolvedConfig, tuple[Leak, ...]] | None = None


@functools.lru_cache(maxsize=65_536)
def _matches(text: str, name: str) -> tuple[SecretMatch, ...]:
    # Tenants of one tier share almost every value: scanning each distinct value once makes
    # `validate --all-tenants` pay for the detector per value, not per tenant.
    return tuple(find_secrets(text, name))


def scan_leaks(resolved: ResolvedConfig) -> tuple[Leak, ...]:
    """Every leak in the ConfigMap-bound values of ``resolved`` (memoised for the last one)."""
    global _LAST_SCAN  # noqa: PLW0603 - a one-entry memo of the last scan
    if _LAST_SCAN is not None and _LAST_SCAN[0] is resolved:
        return _LAST_SCAN[1]
    leaks = tuple(
        Leak(path, text, match, text if listed else None)
        for path, name, text, listed in _values(resolved)
        for match in _matches(text, name)
    )
    _LAST_SCAN = (resolved, leaks)
    return leaks


def _hits(ctx: RuleContext, code: str, what: str) -> Iterator[RuleHit]:
    for leak in scan_leaks(ctx.resolved):
        if leak.match.code == code:
            yield RuleHit(
                leak.path,
                f"{label(leak.path)} holds {what}: {leak.match.describe(leak.value)}; "
                "ConfigMap values are readable by anyone who can read the namespace",
                item=leak.item,
            )


@LEAKS.rule(
    "LEAK-PRIVATE-KEY",
    title="PEM private key in a ConfigMap value",
    rationale="A private key in a ConfigMap lets anyone with read access impersonate the "
    "service or decrypt its traffic.",
    citation=_CITATION,
    fix=_MOVE,
    severity=LEAK_SEVERITY,
)
def private_key(ctx: RuleContext) -> Iterator[RuleHit]:
    """``-----BEGIN ... PRIVATE KEY-----`` blocks."""
    return _hits(ctx, CODE_PRIVATE_KEY, "a private key")


@LEAKS.rule(
    "LEAK-TOKEN-FORMAT",
    title="Known credential format in a ConfigMap value",
    rationale="AWS, GitHub, GitLab, Slack, Stripe, Google, OpenAI, npm, PyPI, SendGrid and "
    "Twilio tokens and signed JWTs have recognisable formats; each one found is a live "
    "credential until proven otherwise.",
    citation=_CITATION + "; gitleaks default rules",
    fix=_MOVE,
    severity=LEAK_SEVERITY,
)
def token_format(ctx: RuleContext) -> Iterator[RuleHit]:
    """Provider token formats."""
    return _hits(ctx, CODE_TOKEN, "a credential")


@LEAKS.rule(
    "LEAK-URL-CREDENTIALS",
    title="Password inside a URL or connection string",
    rationale="scheme://user:password@host and DSNs with password= put the password in "
    "every log line, error message and ConfigMap dump that shows the URL.",
    citation=_CITATION + "; RFC 3986 §3.2.1 (userinfo password is deprecated)",
    fix="remove the password from the URL and pass it as a secret setting; rotate it",
    severity=LEAK_SEVERITY,
)
def url_credentials(ctx: RuleContext) -> Iterator[RuleHit]:
    """``user:password@`` and ``password=`` in DSNs."""
    return _hits(ctx, CODE_URL, "a password")


@LEAKS.rule(
    "LEAK-SECRET-KEYWORD",
    title="Secret-named value in a ConfigMap",
    rationale="A name such as password, api_key, token or secret (detect-secrets' keyword "
    "list, minus gitleaks' known non-secrets like *_id, public_key, token_url) next to a "
    "credential-looking value is a leak even when the value has low entropy.",
    citation=_CITATION + "; detect-secrets KeywordDetector; gitleaks generic-api-key allowlist",
    fix=_MOVE,
    severity=LEAK_SEVERITY,
)
def secret_keyword(ctx: RuleContext) -> Iterator[RuleHit]:
    """Secret-like names with credential-like values."""
    return _hits(ctx, CODE_KEYWORD, "a secret-named value")


@LEAKS.rule(
    "LEAK-HIGH-ENTROPY",
    title="High-entropy string in a ConfigMap value",
    rationale="Random-looking strings (Shannon entropy above 4.5 bits/char for base64, 3.0 "
    "for hex, or 4.0 for 24+ characters mixing upper case, lower case and digits; after "
    "removing UUIDs, paths, templates, masks, public IDs and labelled digests) are almost "
    "always keys or tokens.",
    citation=_CITATION + "; detect-secrets Base64HighEntropyString / HexHighEntropyString",
    fix=_MOVE + "; if it is not a secret (a digest, an ID), label it (sha256:...) or "
    "silence the rule with a reason in tierconf.yaml",
    severity=LEAK_SEVERITY,
)
def high_entropy(ctx: RuleContext) -> Iterator[RuleHit]:
    """High-entropy tokens."""
    return _hits(ctx, CODE_ENTROPY, "a random-looking string")
