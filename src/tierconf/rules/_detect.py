"""Secret detection in configuration values: what a leaked credential looks like.

:func:`find_secrets` scans one value (and, optionally, the KEY it is rendered under) and
returns the spans that look like credentials, most specific first:

1. PEM private keys (``-----BEGIN ... PRIVATE KEY-----``).
2. Known token formats: AWS, GitHub, GitLab, Slack, Stripe, Google, OpenAI, npm, PyPI,
   SendGrid, Twilio, and JSON Web Tokens (header decoded to check it is one).
3. Credentials inside URLs (``scheme://user:password@host``) and keyword DSNs
   (``host=db password=...``).
4. ``name=value`` pairs inside a value (query strings, DSNs, JSON-ish text) and the KEY
   itself, when the name is secret-like by detect-secrets' keyword list and not one of
   gitleaks' known non-secrets (``*_id``, ``public_key``, ``token_url``...).
5. High-entropy tokens: Shannon entropy above 4.5 for base64-like and 3.0 for hex
   strings (detect-secrets' limits), or above 4.0 for tokens of 24+ characters that mix
   upper case, lower case and digits, after removing templated values (``${...}``,
   ``{{ ... }}``), UUIDs, paths, masks, identifiers without digits, public certificates
   and digests that say they are digests (``sha256:...``).

Pure and fast: no I/O, compiled regexes, linear in the size of the value. The matched
text is only used to mask it (:func:`redact`); it is never put in a message.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tierconf.secrets._fingerprint import fingerprint

BASE64_LIMIT = 4.5
HEX_LIMIT = 3.0
MIN_ENTROPY_LENGTH = 20
#: Random alphanumeric keys of 24-40 characters often fall just under 4.5 bits/char (the
#: maximum for 32 characters is 5.0); one that mixes upper case, lower case and digits and
#: stays above this limit is machine-generated, not a word or an identifier.
MIXED_CLASS_LIMIT = 4.0
MIXED_CLASS_LENGTH = 24
MASK = "********"

CODE_PRIVATE_KEY = "LEAK-PRIVATE-KEY"
CODE_TOKEN = "LEAK-TOKEN-FORMAT"  # noqa: S105 - a rule code, not a password
CODE_URL = "LEAK-URL-CREDENTIALS"
CODE_KEYWORD = "LEAK-SECRET-KEYWORD"
CODE_ENTROPY = "LEAK-HIGH-ENTROPY"


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """A span of a value that looks like a credential.

    ``kind`` names what it looks like (``GitHub token``); ``code`` is the leak rule that
    reports it. ``start``/``end`` index the scanned text. ``repr`` never shows the text.
    """

    code: str
    kind: str
    start: int
    end: int

    def text(self, value: str) -> str:
        """The matched text of ``value`` (for masking only)."""
        return value[self.start : self.end]

    def describe(self, value: str) -> str:
        """A safe description: the kind, the length and, for long values, a fingerprint."""
        secret = self.text(value)
        shown = f"{self.kind} ({len(secret)} characters"
        if len(secret) >= 20:
            shown += f", {fingerprint(secret)}"
        return shown + ")"


# --- 1. private keys ----------------------------------------------------------------------

_PRIVATE_KEY = re.compile(
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
    re.DOTALL,
)
#: Identifiers that are public by design although they look random.
_PUBLIC_TOKENS = re.compile(
    r"\bpk_(?:live|test)_[A-Za-z0-9]{16,99}\b"
    r"|\b[0-9]{6,}-[a-z0-9]{20,}\.apps\.googleusercontent\.com\b"
)
_CERTIFICATE = re.compile(
    r"-----BEGIN (?:CERTIFICATE|PUBLIC KEY|RSA PUBLIC KEY|X509 CRL)-----.*?"
    r"(?:-----END (?:CERTIFICATE|PUBLIC KEY|RSA PUBLIC KEY|X509 CRL)-----|\Z)",
    re.DOTALL,
)

# --- 2. known token formats ---------------------------------------------------------------

_TOKENS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("AWS access key ID", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b"),
        ("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),
        ("GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{60,255}\b"),
        ("GitLab token", r"\bgl(?:pat|dt|rt|ptt|soat)-[A-Za-z0-9_-]{20,}"),
        ("Slack token", r"\bxox[abposr]-(?:\d+-)?[A-Za-z0-9-]{10,}"),
        (
            "Slack webhook URL",
            r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/_-]{20,}",
        ),
        ("Stripe secret key", r"\b(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{16,99}\b"),
        ("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
        ("Google OAuth client secret", r"\bGOCSPX-[A-Za-z0-9_-]{28}\b"),
        ("Google OAuth access token", r"\bya29\.[0-9A-Za-z_-]{20,}"),
        ("OpenAI API key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"),
        ("npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
        ("PyPI token", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
        ("SendGrid API key", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b"),
        ("Twilio API key", r"\bSK[0-9a-f]{32}\b"),
        (
            "JSON Web Token",
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,}",
        ),
    )
)

# --- 3. credentials in URLs and DSNs ------------------------------------------------------

_URL_USERINFO = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/@:?#]*:(?P<pw>[^\s/@?#]+)@")
_DSN_HINT = re.compile(r"(?i)\b(?:host|server|data source|dbname|database|uid|user id)\s*=")
_DSN_PASSWORD = re.compile(r"(?i)\b(?:password|pwd|passwd)\s*=\s*(?P<pw>[^;\s'\"]+)")

# --- 4. secret-like names -----------------------------------------------------------------

#: detect-secrets' KeywordDetector denylist (plugins/keyword.py), plus gitleaks' generic
#: keywords that detect-secrets lacks (token, credential, creds, access key).
SECRET_NAME_WORDS = (
    "api_?key",
    "auth_?key",
    "service_?key",
    "account_?key",
    "db_?key",
    "database_?key",
    "priv_?key",
    "private_?key",
    "client_?key",
    "db_?pass",
    "database_?pass",
    "key_?pass",
    "password",
    "passwd",
    "pwd",
    "secret",
    "contraseña",
    "contrasena",
    "token",
    "credential",
    "creds",
    "access_?key",
    "signing_?key",
    "encryption_?key",
)
_SECRET_NAME = re.compile("|".join(SECRET_NAME_WORDS), re.IGNORECASE)
#: gitleaks' generic-api-key allowlist (names that contain a keyword but are not secrets),
#: with the separators normalised to ``_``; plus tierconf's own policy names.
_NOT_SECRET_NAME = re.compile(
    r"(?:access(?:ibility|or)|access_?id|random_?access"
    r"|api_?(?:id|name|version)|rapid|capital|author"
    r"|credentials?_?id|withcredentials"
    r"|(?:bucket|foreign|hot|idx|natural|primary|pub(?:lic)?|schema|sequence)_?key"
    r"|turkey|key_?(?:alias|board|code|frame|id|length|mesh|name|pair|press(?:ed)?|ring"
    r"|selector|signature|size|stone|storetype|word|up|down|left|right|header|rotation)"
    r"|key_?vault_?(?:id|name)|key(?:store|tab)_?(?:file|path)|issuerkeyhash|monkey|keying"
    r"|secret_?(?:length|name|size|ref|path|file|arn|id)|usersecretsid"
    r"|csrf_?token|(?:api|credentials|token)_?(?:endpoint|ur[il])|public_?token"
    r"|(?:key|token|password|passwd|secret)_?(?:file|path|dir|env|var|header|cookie)"
    r"|token_?(?:expire|expiry|ttl|lifetime|type|audience|issuer|leeway)"
    r"|password_?(?:min|max|require|check|policy|length|history|reset|expir|hash)"
    r"|_id$|_ids$|_name$|_names$|_enabled$|_header$|_count$|_days$|_minutes$|_hours$|_seconds$)",
    re.IGNORECASE,
)
_PAIR = re.compile(
    r"(?<![^\s?&;,{(\"'\[])(?P<name>[A-Za-z][A-Za-z0-9_.\-]{1,63})[\"']?\s*[=:]\s*[\"']?"
    r"(?P<value>[^\s\"'&;,)}\]/][^\s\"'&;,)}\]]{0,511})"
)

# --- 5. high-entropy tokens ---------------------------------------------------------------

_TEMPLATED = re.compile(
    r"\$\{[^}]*\}|\{\{.*?\}\}|\{%.*?%\}|%\([A-Za-z_]+\)s|<[A-Za-z_][A-Za-z0-9_ -]*>"
    r"|\$\([^)]*\)|\$[A-Z_][A-Z0-9_]{2,}"
)
_CANDIDATE = re.compile(rf"[A-Za-z0-9+/=_-]{{{MIN_ENTROPY_LENGTH},}}")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_UUID_ANYWHERE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DIGEST_PREFIX = re.compile(r"(?i)(?:sha(?:1|224|256|384|512)|md5|blake2b?|crc32|git)[:=@-]$")
_DIGEST_NAME = re.compile(r"(?i)hash|digest|checksum|sha|etag|commit|revision|version|fingerprint")
#: Names of public identifiers (gitleaks' ``*_id`` / ``public_*`` exclusions): a random
#: looking client ID or public key under such a name is not a secret.
_PUBLIC_NAME = re.compile(r"(?i)(?:^|[_.-])(?:ids?|public|pub|publishable)(?:$|[_.-])|Id$")
_MASKED = re.compile(r"^(?:[*xX#•.]+|(?i:redacted|masked|hidden|changeme|placeholder|none|null))$")
_WORDY_SEGMENT = re.compile(r"^(?:[a-z0-9._-]*|[A-Z]?[a-z]+(?:[A-Z][a-z]+)*[0-9]{0,4}|[A-Z0-9_]+)$")


def shannon_entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character."""
    if not text:
        return 0.0
    length = len(text)
    return -sum(n / length * math.log2(n / length) for n in Counter(text).values())


def _machine_generated(token: str) -> bool:
    """Long, mixes upper case, lower case and digits, and nearly as random as base64."""
    return (
        len(token) >= MIXED_CLASS_LENGTH
        and any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and sum(c.isdigit() for c in token) >= 2
        and shannon_entropy(token) > MIXED_CLASS_LIMIT
    )


def _is_jwt(token: str) -> bool:
    header = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        data = json.loads(decoded)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and ("alg" in data or "typ" in data)


def _placeholder(value: str) -> bool:
    """Templated, masked, referenced or otherwise not a literal credential."""
    text = value.strip().strip("\"'")
    if not text or _MASKED.match(text):
        return True
    if "****" in text or text.lower().startswith(("xxxx", "your", "<", "${", "{{", "$(")):
        return True
    return bool(_TEMPLATED.fullmatch(text))


def _looks_like_path(token: str) -> bool:
    if "/" not in token:
        return False
    segments = [s for s in token.split("/") if s]
    if not segments:
        return True
    return all(_WORDY_SEGMENT.match(s) for s in segments)


def _credential_like(value: str) -> bool:
    """A whole value that could be a password or key: one token, not a name or a URL."""
    text = value.strip()
    if len(text) < 6 or len(text) > 512 or any(c.isspace() for c in text):
        return False
    if _placeholder(text) or _UUID.match(text) or text.startswith(("/", "./", "~/")):
        return False
    if "://" in text or re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", text):
        return False  # URLs and host names
    if text.lower() in {"true", "false", "yes", "no", "on", "off"}:
        return False
    if re.fullmatch(r"[0-9.:_-]+", text):
        return False  # numbers, versions, durations
    has_digit = any(c.isdigit() for c in text)
    has_alpha = any(c.isalpha() for c in text)
    has_other = any(not c.isalnum() for c in text)
    if not has_alpha:
        return False
    # Header names, cookie names, identifiers: letters and separators only.
    return has_digit or (has_other and not re.fullmatch(r"[A-Za-z]+([_.-][A-Za-z]+)*", text))


def secret_like_name(name: str) -> bool:
    """Whether a KEY or field name suggests a credential (and is not a known non-secret)."""
    normalised = re.sub(r"[.\-\s]", "_", name)
    normalised = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", normalised)
    if not _SECRET_NAME.search(normalised):
        return False
    return not _NOT_SECRET_NAME.search(normalised)


def _overlaps(span: tuple[int, int], taken: Iterable[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)


class _Scan:
    def __init__(self, value: str) -> None:
        self.value = value
        self.matches: list[SecretMatch] = []
        self.ignored: list[tuple[int, int]] = []

    def taken(self) -> list[tuple[int, int]]:
        return [(m.start, m.end) for m in self.matches] + self.ignored

    def add(self, code: str, kind: str, start: int, end: int) -> None:
        if end > start and not _overlaps((start, end), [(m.start, m.end) for m in self.matches]):
            self.matches.append(SecretMatch(code, kind, start, end))

    def private_keys(self) -> None:
        for match in _PRIVATE_KEY.finditer(self.value):
            self.add(CODE_PRIVATE_KEY, "PEM private key", match.start(), match.end())
        for match in _CERTIFICATE.finditer(self.value):
            self.ignored.append(match.span())
        for match in _PUBLIC_TOKENS.finditer(self.value):
            self.ignored.append(match.span())

    def tokens(self) -> None:
        for kind, pattern in _TOKENS:
            for match in pattern.finditer(self.value):
                if kind == "JSON Web Token" and not _is_jwt(match.group()):
                    continue
                self.add(CODE_TOKEN, kind, match.start(), match.end())

    def url_credentials(self) -> None:
        for match in _URL_USERINFO.finditer(self.value):
            if not _placeholder(match.group("pw")):
                self.add(CODE_URL, "password in a URL", *match.span("pw"))
        if _DSN_HINT.search(self.value):
            for match in _DSN_PASSWORD.finditer(self.value):
                if not _placeholder(match.group("pw")):
                    self.add(CODE_URL, "password in a connection string", *match.span("pw"))

    def pairs(self) -> None:
        for match in _PAIR.finditer(self.value):
            name, secret = match.group("name"), match.group("value")
            if secret_like_name(name) and _credential_like(secret):
                self.add(CODE_KEYWORD, f"value of {name!r}", *match.span("value"))

    def key_name(self, key: str) -> None:
        if self.matches or not secret_like_name(key):
            return
        if _credential_like(self.value):
            stripped = self.value.strip()
            start = self.value.index(stripped)
            self.add(CODE_KEYWORD, f"value of a setting named {key}", start, start + len(stripped))

    def entropy(self, key: str | None) -> None:
        if key is not None and _PUBLIC_NAME.search(key):
            return
        scrubbed = _TEMPLATED.sub(lambda m: " " * len(m.group()), self.value)
        scrubbed = _UUID_ANYWHERE.sub(lambda m: " " * len(m.group()), scrubbed)
        taken = self.taken()
        for match in _CANDIDATE.finditer(scrubbed):
            token = match.group().strip("=-_/")
            start = match.start() + match.group().index(token) if token else match.start()
            span = (start, start + len(token))
            if len(token) < MIN_ENTROPY_LENGTH or _overlaps(span, taken):
                continue
            if not any(c.isdigit() for c in token) or not any(c.isalpha() for c in token):
                continue  # gitleaks' rule of thumb: a secret mixes letters and digits
            if _looks_like_path(token) or _MASKED.match(token):
                continue
            if _HEX.match(token):
                before = scrubbed[max(0, start - 8) : start]
                if _DIGEST_PREFIX.search(before) or (key and _DIGEST_NAME.search(key)):
                    continue
                if shannon_entropy(token) > HEX_LIMIT:
                    self.add(CODE_ENTROPY, "high-entropy hex string", *span)
            elif shannon_entropy(token) > BASE64_LIMIT or _machine_generated(token):
                self.add(CODE_ENTROPY, "high-entropy string", *span)


def find_secrets(value: str, key: str | None = None) -> list[SecretMatch]:
    """Every span of ``value`` that looks like a credential, in text order.

    Args:
        value: A ConfigMap-bound value (any text: URL, DSN, JSON, free text).
        key: The KEY or field name it is rendered under; secret-like names make a
            credential-looking value a finding even at low entropy.
    """
    if not value:
        return []
    scan = _Scan(value)
    scan.private_keys()
    scan.tokens()
    scan.url_credentials()
    scan.pairs()
    if key is not None:
        scan.key_name(key)
    scan.entropy(key)
    return sorted(scan.matches, key=lambda m: m.start)


@functools.lru_cache(maxsize=65_536)
def redact(text: str) -> str:
    """``text`` with every detected credential replaced by the mask (memoised per text)."""
    matches = find_secrets(text)
    for match in sorted(matches, key=lambda m: m.start, reverse=True):
        text = text[: match.start] + MASK + text[match.end :]
    return text
