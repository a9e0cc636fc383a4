"""Secret detection: tierconf's detector next to detect-secrets on one labelled corpus.

The corpus (``tests/data/secret_corpus.jsonl``) holds ConfigMap-style ``KEY``/value pairs:
planted credentials of every kind tierconf looks for (provider tokens, JWTs, PEM keys,
passwords in URLs and DSNs, secret-named low-entropy passwords, random keys) and
look-alikes that are not secrets (UUIDs, labelled digests, paths, identifiers, masks,
templates, public client IDs, URLs without credentials...). It is generated from a fixed
seed by ``--write-corpus`` so anyone can rebuild and review it.

Each tool sees a value the way it meets it: tierconf's detector gets the value and its KEY
(as the leak rules do); detect-secrets 1.5 runs all its plugins with its default filters
in-process (``scan_line``) on the YAML line ``KEY: "value"`` a ConfigMap would hold.
A line counts as detected when the tool reports anything on it.

Usage::

    python benchmarks/secret_detection.py                  # print the numbers
    python benchmarks/secret_detection.py --write-results  # also update RESULTS.md
    python benchmarks/secret_detection.py --write-corpus   # regenerate the corpus
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import platform
import random
import re
import string
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "secret_corpus.jsonl"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Secret detection"

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
UPPER_DIGITS = string.ascii_uppercase + string.digits
POD_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class Sample:
    """One labelled line of the corpus."""

    key: str
    value: str
    secret: bool
    kind: str


# --- corpus -------------------------------------------------------------------------------


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    while True:
        text = "".join(rng.choice(alphabet) for _ in range(n))
        if any(c.isdigit() for c in text) or not any(c.isdigit() for c in alphabet):
            return text


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {
        "sub": str(rng.randint(10**5, 10**9)),
        "tenant": rng.choice(["acme", "globex"]),
        "iat": rng.randint(1.6e9, 1.8e9),
        "scope": "playlists:write",
    }
    payload = _b64url(json.dumps(claims).encode())
    key = _rand(rng, ALNUM, 32).encode()
    signature = _b64url(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def _pem(rng: random.Random, label: str) -> str:
    body = "\n".join(_rand(rng, B64, 64) for _ in range(4))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


def _positives(rng: random.Random) -> Iterator[Sample]:
    keys = [
        "INTEGRATION_CONFIG",
        "PARTNER_ENDPOINT_SETTINGS",
        "EXTRA_ENV",
        "LEGACY_OPTIONS",
        "NOTIFIER_SETTINGS",
        "EXPORTER_ARGS",
        "BACKUP_TARGET",
        "WORKER_ENV",
    ]
    for _ in range(12):
        yield Sample(
            rng.choice(["AWS_ACCESS_KEY_ID", "S3_UPLOADER", "BACKUP_TARGET"]),
            "AKIA" + _rand(rng, string.ascii_uppercase + "234567", 16),
            True,
            "aws-access-key-id",
        )
        yield Sample(
            rng.choice(["AWS_SECRET_ACCESS_KEY", "S3_SECRET", "EXPORTER_ARGS"]),
            _rand(rng, B64, 40),
            True,
            "aws-secret-access-key",
        )
        yield Sample(
            rng.choice(keys),
            rng.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + _rand(rng, ALNUM, 36),
            True,
            "github-token",
        )
    for _ in range(4):
        yield Sample("CI_SETTINGS", "github_pat_" + _rand(rng, ALNUM + "_", 82), True, "github-pat")
    for _ in range(10):
        team, bot = rng.randint(10**9, 10**10), rng.randint(10**9, 10**10)
        yield Sample(
            rng.choice(keys),
            f"xox{rng.choice('bpa')}-{team}-{bot}-{_rand(rng, ALNUM, 24)}",
            True,
            "slack-token",
        )
        yield Sample(
            rng.choice(["STRIPE_CONFIG", "BILLING_OPTIONS", "PAYMENTS"]),
            rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + _rand(rng, ALNUM, 24),
            True,
            "stripe-key",
        )
        yield Sample(
            rng.choice(["MAPS_SETTINGS", "YOUTUBE_CONFIG", "GCP_OPTIONS"]),
            "AIza" + _rand(rng, ALNUM + "-_", 35),
            True,
            "google-api-key",
        )
        yield Sample(
            rng.choice(["FRONTEND_BOOTSTRAP", "SESSION_SAMPLE", "TEST_FIXTURE"]), _jwt(rng), True, "jwt"
        )
    for _ in range(5):
        yield Sample(
            "ALERT_WEBHOOK",
            "https://hooks.slack.com/services/T"
            f"{_rand(rng, UPPER_DIGITS, 8)}/B{_rand(rng, UPPER_DIGITS, 8)}/"
            f"{_rand(rng, ALNUM, 24)}",
            True,
            "slack-webhook",
        )
        yield Sample("GOOGLE_OAUTH", "GOCSPX-" + _rand(rng, ALNUM + "-_", 28), True, "google-client-secret")
    for label in (
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "DSA PRIVATE KEY",
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
    ):
        yield Sample(
            rng.choice(["TLS_BUNDLE", "SIGNING_MATERIAL", "SSH_CONFIG"]),
            _pem(rng, label),
            True,
            "pem-private-key",
        )
    passwords = [
        "summer2024",
        "Spotify!2024",
        "hunter2-prod",
        "correcthorse77",
        "Welcome123",
        "p4ssw0rd-db",
        "Tr0ub4dor&3",
        "letmein2023",
        "qwerty-789",
        "admin1234",
    ]
    for i in range(15):
        scheme, port = rng.choice(
            [
                ("postgresql", 5432),
                ("redis", 6379),
                ("amqp", 5672),
                ("https", 443),
                ("mongodb+srv", 27017),
                ("mysql", 3306),
            ]
        )
        password = rng.choice(passwords) if i % 2 else _rand(rng, ALNUM, 20)
        yield Sample(
            rng.choice(["DATABASE_URL", "BROKER_URL", "CACHE_URL", "REGISTRY_MIRROR", "UPSTREAM"]),
            f"{scheme}://svc_user:{password}@db{i}.internal.example.com:{port}/app",
            True,
            "url-credentials",
        )
    for i in range(6):
        yield Sample(
            rng.choice(["DB_DSN", "ODBC_CONNECTION", "LEGACY_DSN"]),
            rng.choice(
                [
                    f"host=db{i}.internal dbname=app user=app password={rng.choice(passwords)}",
                    f"Server=sql{i}.internal;Database=app;User Id=app;Password={rng.choice(passwords)};",
                ]
            ),
            True,
            "dsn-password",
        )
    secret_names = [
        "SMTP_PASSWORD",
        "LDAP_BIND_PASSWORD",
        "WEBHOOK_SECRET",
        "PARTNER_API_KEY",
        "ADMIN_PASSWD",
        "ANALYTICS_TOKEN",
        "SFTP_PWD",
        "SIGNING_KEY_PASS",
        "CLIENT_SECRET",
        "MAILGUN_API_KEY",
        "DB_PASS",
        "PRIVATE_KEY_PASSPHRASE",
    ]
    for i in range(15):
        yield Sample(
            rng.choice(secret_names),
            rng.choice(passwords) if i % 3 else _rand(rng, ALNUM, 14),
            True,
            "secret-named-value",
        )
    for i in range(8):
        name = rng.choice(["api_key", "access_token", "token", "client_secret", "apikey", "secret"])
        yield Sample(
            rng.choice(["PARTNER_FEED_URL", "ML_REGISTRY_URL", "CALLBACK", "EXPORT_TARGET"]),
            f"https://partner{i}.example.com/v2/feed?region=eu&{name}={rng.choice(passwords)}",
            True,
            "query-string-secret",
        )
    for i in range(15):
        value = (
            _rand(rng, ALNUM, rng.choice([32, 40, 48]))
            if i % 2
            else _rand(rng, HEX, rng.choice([32, 40, 64]))
        )
        yield Sample(
            rng.choice(["SIGNING_SEED", "INTERNAL_VALUE", "ENCRYPTION_MATERIAL", "HMAC_INPUT", "SALT"]),
            value,
            True,
            "random-key",
        )
    for _ in range(2):
        yield Sample(
            "LLM_CONFIG",
            "sk-proj-" + _rand(rng, ALNUM, 20) + "T3BlbkFJ" + _rand(rng, ALNUM, 20),
            True,
            "openai-key",
        )
        yield Sample("NPMRC", "npm_" + _rand(rng, ALNUM, 36), True, "npm-token")
        yield Sample(
            "MAILER",
            "SG." + _rand(rng, ALNUM + "-_", 22) + "." + _rand(rng, ALNUM + "-_", 43),
            True,
            "sendgrid-key",
        )
        yield Sample("SMS_PROVIDER", "SK" + _rand(rng, HEX, 32), True, "twilio-key")
        yield Sample("GITLAB_MIRROR", "glpat-" + _rand(rng, ALNUM + "-_", 20), True, "gitlab-token")


def _camel(rng: random.Random) -> str:
    words = [
        "spotify",
        "playlist",
        "recommendation",
        "service",
        "client",
        "factory",
        "handler",
        "manager",
        "provider",
        "adapter",
        "sentiment",
        "analysis",
        "audio",
        "stem",
        "separation",
        "pipeline",
        "tenant",
        "quota",
        "resolver",
        "metrics",
        "exporter",
        "collector",
    ]
    chosen = rng.sample(words, rng.randint(3, 6))
    return chosen[0] + "".join(w.capitalize() for w in chosen[1:])


def _negatives(rng: random.Random) -> Iterator[Sample]:
    for _ in range(20):
        yield Sample(
            rng.choice(["REQUEST_ID", "TENANT_UUID", "CORRELATION_ID", "INSTANCE_GUID", "DEFAULT_ORG"]),
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            False,
            "uuid",
        )
    for i in range(20):
        digest = hashlib.sha256(str(rng.random()).encode()).hexdigest()
        sha1 = hashlib.sha1(str(rng.random()).encode()).hexdigest()
        yield rng.choice(
            [
                Sample(
                    "API_IMAGE", f"registry.example.com/spotify-ai/api@sha256:{digest}", False, "image-digest"
                ),
                Sample("GIT_COMMIT_SHA", sha1, False, "commit-sha"),
                Sample("MODEL_CHECKSUM", f"sha256:{digest}", False, "checksum"),
                Sample("BUILD_REVISION", sha1, False, "commit-sha"),
                Sample("ASSET_ETAG", hashlib.md5(str(i).encode()).hexdigest(), False, "etag"),
            ]
        )
    paths = [
        "/var/lib/spotify-ai-agent/models/recommender-v2",
        "/etc/ssl/certs/ca-certificates.crt",
        "/run/secrets/db-password",
        "/var/run/secrets/kubernetes.io/serviceaccount/token",
        "s3://spotify-ai-models/checkpoints/epoch-0042/weights.bin",
        "/opt/app/config/logging.yaml",
        "models/sentiment/twitter-roberta-base-sentiment-latest",
        "/data/stems/spleeter/2stems/config.json",
        "/usr/share/zoneinfo/Europe/Stockholm",
        "gs://spotify-ai-features/exports/2024/06/part-00017.parquet",
    ]
    for i in range(20):
        yield Sample(
            rng.choice(
                ["DB_PASSWORD_FILE", "MODEL_DIR", "CA_BUNDLE", "TOKEN_FILE", "EXPORT_PATH", "SECRETS_MOUNT"]
            ),
            paths[i % len(paths)],
            False,
            "path",
        )
    for _ in range(20):
        yield Sample(
            rng.choice(["HANDLER_CLASS", "FACTORY", "METRIC_NAME", "PLUGIN"]),
            _camel(rng) if rng.random() < 0.7 else "_".join(_camel(rng).lower() for _ in range(1)),
            False,
            "identifier",
        )
    masks = [
        "********",
        "xxxxxxxxxxxxxxxx",
        "${env:DB_PASSWORD}",
        "${file:/run/secrets/jwt}",
        "{{ .Values.redis.password }}",
        "<your-api-key>",
        "REDACTED",
        "$(DB_PASSWORD)",
        "${STRIPE_SECRET_KEY}",
        "%(password)s",
        '{{ secret "smtp" }}',
        "****-****-****-1234",
    ]
    for i in range(20):
        yield Sample(
            rng.choice(["DB_PASSWORD", "SMTP_PASSWORD", "API_KEY", "STRIPE_SECRET_KEY", "JWT_SECRET"]),
            masks[i % len(masks)],
            False,
            "mask-or-template",
        )
    urls = [
        "https://api.spotify.com/v1",
        "redis://redis-master.data.svc.cluster.local:6379/0",
        "postgresql://app@postgres-primary.data.svc.cluster.local:5432/app",
        "https://oauth2.googleapis.com/token",
        "https://accounts.spotify.com/api/token",
        "http://mlflow.ml.svc.cluster.local:5000",
        "https://hooks.example.com/incoming/build-status",
        "amqp://rabbitmq.messaging.svc:5672/%2F",
        "https://grafana.observability.svc.cluster.local:3000/d/abc",
        "https://app.spotify-ai-agent.com/auth/complete?next=/playlists",
    ]
    for i in range(15):
        yield Sample(
            rng.choice(["TOKEN_URL", "UPSTREAM_URL", "CACHE_URL", "CALLBACK_URL"]),
            urls[i % len(urls)],
            False,
            "url-without-credentials",
        )
    for _ in range(10):
        yield Sample(
            rng.choice(["DB_HOST", "KAFKA_BOOTSTRAP", "SEARCH_HOST"]),
            f"ip-10-0-{rng.randint(0, 255)}-{rng.randint(0, 255)}.eu-north-1.compute.internal",
            False,
            "hostname",
        )
        yield Sample(
            "POD_NAME",
            f"spotify-ai-agent-{_rand(rng, HEX[:10] + 'bcdf', 9)}-{_rand(rng, POD_SUFFIX, 5)}",
            False,
            "k8s-name",
        )
    for value in [
        "2.10.4",
        "v1.29.3-eks-5e0fdde",
        "1.0.0-rc.2+build.20240611",
        "15.6",
        "3.11.7",
        "0 */6 * * *",
        "P1DT12H",
        "30s",
        "128Mi",
        "2024-06-11T08:30:00Z",
    ]:
        yield Sample(
            rng.choice(["ML_MODEL_VERSION", "RELEASE", "SCHEDULE", "TIMEOUT"]),
            value,
            False,
            "version-or-duration",
        )
    for key, value in [
        ("PASSWORD_MIN_LENGTH", "12"),
        ("TOKEN_TTL_SECONDS", "3600"),
        ("API_KEY_ROTATION_DAYS", "90"),
        ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "15"),
        ("PASSWORD_REQUIRE_DIGIT", "false"),
        ("API_KEY_HEADER", "X-API-Key"),
        ("CSRF_COOKIE_NAME", "csrftoken"),
        ("SECRET_NAME", "spotify-ai-agent-secrets"),
        ("TOKEN_AUDIENCE", "spotify-ai-agent-api"),
        ("AUTH_MODE", "bearer"),
        ("SECRETS_BACKEND", "vault"),
        ("KEY_ALIAS", "alias/spotify-ai-prod"),
        ("PASSWORD_POLICY", "nist-800-63b"),
        ("TOKEN_TYPE", "Bearer"),
    ]:
        yield Sample(key, value, False, "secret-named-setting")
    for _ in range(4):
        yield Sample("SPOTIFY_CLIENT_ID", _rand(rng, HEX, 32), False, "public-client-id")
        yield Sample(
            "GOOGLE_CLIENT_ID",
            f"{rng.randint(10**11, 10**12)}-{_rand(rng, string.ascii_lowercase + string.digits, 32)}"
            ".apps.googleusercontent.com",
            False,
            "public-client-id",
        )
        yield Sample("STRIPE_PUBLISHABLE_KEY", "pk_live_" + _rand(rng, ALNUM, 24), False, "public-key")
        yield Sample("CA_CERTIFICATE", _pem(rng, "CERTIFICATE"), False, "certificate")
    sentences = [
        "AI-driven track and artist recommendations on the home feed.",
        "Generate a playlist from a text prompt or a seed track.",
        "Rotate the API key every 90 days; never commit secrets to Git.",
        "Set the password in the Vault path secret/spotify-ai/db.",
        "Tokens expire after 15 minutes; refresh tokens after 7 days.",
        "ml-platform@spotify-ai-agent.com",
        "default-src 'self'; frame-ancestors 'none'",
        "GET,POST,PUT,PATCH,DELETE,OPTIONS",
        "Authorization,Content-Type,X-API-Key,X-CSRF-Token",
        '{"enabled":true,"rollout_percent":30,"allow_tenants":["acme"]}',
    ]
    for i in range(10):
        yield Sample(
            rng.choice(["DESCRIPTION", "NOTES", "CSP", "CORS_ALLOWED_HEADERS", "FLAG_AI_RECOMMENDATION"]),
            sentences[i],
            False,
            "text",
        )


def build_corpus(seed: int = 20260301) -> list[Sample]:
    """The labelled corpus, deterministic for ``seed``."""
    rng = random.Random(seed)
    samples = [*_positives(rng), *_negatives(rng)]
    rng.shuffle(samples)
    return samples


def load_corpus(path: Path = CORPUS) -> list[Sample]:
    """Read the JSON-lines corpus."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Sample(**json.loads(line)) for line in lines if line.strip()]


def write_corpus(samples: list[Sample], path: Path = CORPUS) -> None:
    """Write the corpus as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(s.__dict__, ensure_ascii=False) + "\n" for s in samples)
    path.write_text(text, encoding="utf-8")


# --- detectors ----------------------------------------------------------------------------


Detector = Callable[[list[Sample]], list[bool]]


def tierconf_detector() -> Detector:
    """tierconf's leak detector, as the leak rules call it (value + KEY)."""
    from tierconf.rules import find_secrets

    return lambda samples: [bool(find_secrets(s.value, s.key)) for s in samples]


def detect_secrets_file_detector() -> Detector:
    """``detect-secrets scan`` as a pre-commit hook runs it: every plugin, default filters,
    over a YAML file holding one ``- KEY: "value"`` entry per sample (a list keeps repeated
    KEYs apart and gives one line per sample)."""
    import tempfile

    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    def detect(samples: list[Sample]) -> list[bool]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "configmaps.yaml"
            path.write_text("".join(f"- {s.key}: {json.dumps(s.value)}\n" for s in samples), encoding="utf-8")
            with default_settings():
                lines = {secret.line_number for secret in scan_file(str(path))}
        return [index + 1 in lines for index in range(len(samples))]

    return detect


def detect_secrets_line_detector() -> Detector:
    """detect-secrets' ad-hoc ``scan_line`` (eager search) on each ``KEY: "value"`` line."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    def detect(samples: list[Sample]) -> list[bool]:
        with default_settings():
            return [any(True for _ in scan_line(f"{s.key}: {json.dumps(s.value)}")) for s in samples]

    return detect


@dataclass(frozen=True)
class Score:
    """Confusion counts and throughput of one detector."""

    name: str
    tp: int
    fn: int
    fp: int
    tn: int
    seconds: float
    missed_kinds: dict[str, int]
    false_kinds: dict[str, int]

    @property
    def recall(self) -> float:
        """Share of planted secrets found."""
        return self.tp / (self.tp + self.fn)

    @property
    def fp_rate(self) -> float:
        """Share of look-alikes flagged."""
        return self.fp / (self.fp + self.tn)

    @property
    def precision(self) -> float:
        """Share of flags that are secrets."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0


def score(name: str, detect: Detector, samples: list[Sample], repeat: int) -> Score:
    """Run ``detect`` over the corpus; count the verdicts, time ``repeat`` more passes."""
    verdicts = detect(samples)
    started = time.perf_counter()
    for _ in range(repeat):
        detect(samples)
    seconds = (time.perf_counter() - started) / repeat
    pairs = list(zip(verdicts, samples, strict=True))
    tp = sum(v and s.secret for v, s in pairs)
    fn = sum(not v and s.secret for v, s in pairs)
    fp = sum(v and not s.secret for v, s in pairs)
    tn = sum(not v and not s.secret for v, s in pairs)
    missed: dict[str, int] = {}
    false: dict[str, int] = {}
    for verdict, sample in pairs:
        if sample.secret and not verdict:
            missed[sample.kind] = missed.get(sample.kind, 0) + 1
        if verdict and not sample.secret:
            false[sample.kind] = false.get(sample.kind, 0) + 1
    return Score(name, tp, fn, fp, tn, seconds, missed, false)


def report(scores: list[Score], samples: list[Sample], command: str) -> str:
    """The Markdown section for RESULTS.md."""
    positives = sum(s.secret for s in samples)
    versions = {
        "python": platform.python_version(),
        "tierconf": metadata.version("tierconf"),
        "detect-secrets": metadata.version("detect-secrets"),
    }
    lines = [
        SECTION,
        "",
        f"Date: {date.today().isoformat()}. Command: `{command}`.",
        f"Versions: {', '.join(f'{k} {v}' for k, v in versions.items())}; "
        f"machine: {platform.machine()}, {platform.system()}.",
        "",
        f"Corpus: `tests/data/secret_corpus.jsonl`, {len(samples)} labelled ConfigMap values "
        f"({positives} planted secrets of {len({s.kind for s in samples if s.secret})} kinds, "
        f"{len(samples) - positives} look-alikes of {len({s.kind for s in samples if not s.secret})} kinds), "
        "generated from a fixed seed by `--write-corpus`.",
        "",
        "| detector | recall | false-positive rate | precision | TP | FN | FP | TN | values/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        rate = len(samples) / s.seconds if s.seconds else float("inf")
        lines.append(
            f"| {s.name} | {s.recall:.1%} | {s.fp_rate:.1%} | {s.precision:.1%} | {s.tp} | {s.fn} | "
            f"{s.fp} | {s.tn} | {rate:,.0f} |"
        )
    lines.append("")
    for s in scores:
        missed = ", ".join(f"{k} {v}" for k, v in sorted(s.missed_kinds.items())) or "none"
        false = ", ".join(f"{k} {v}" for k, v in sorted(s.false_kinds.items())) or "none"
        lines.append(f"- {s.name}: missed {missed}; false positives on {false}.")
    lines += [
        "",
        "tierconf sees each value with its KEY, as the leak rules do. detect-secrets runs every "
        "plugin with its default filters, in-process, in its two modes: the file scan that "
        "`detect-secrets scan` and its pre-commit hook use, over a YAML file with one "
        '`- KEY: "value"` line per value, and the ad-hoc `scan_line` (eager search) on '
        "each such line. A value counts as detected when the tool reports anything on its line. "
        "values/s is the whole corpus divided by the mean of the timed passes (file scan "
        "includes writing the file). Caveat: the corpus was written by the authors of the "
        "tierconf detector, for ConfigMap values; treat the tierconf row as an upper bound.",
        "",
    ]
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS) -> None:
    """Replace (or append) the Secret detection section of RESULTS.md."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-corpus", action="store_true", help="regenerate the corpus file")
    parser.add_argument("--write-results", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--repeat", type=int, default=3, help="timing passes over the corpus")
    args = parser.parse_args(argv)
    if args.write_corpus:
        write_corpus(build_corpus())
    samples = load_corpus()
    ours = score("tierconf", tierconf_detector(), samples, args.repeat)
    theirs = [
        score("detect-secrets, file scan", detect_secrets_file_detector(), samples, args.repeat),
        score("detect-secrets, scan_line (eager)", detect_secrets_line_detector(), samples, args.repeat),
    ]
    command = "python benchmarks/secret_detection.py" + (" --write-results" if args.write_results else "")
    section = report([ours, *theirs], samples, command)
    print(section)
    if args.write_results:
        write_results(section)
    beats = all(ours.recall > t.recall and ours.fp_rate < t.fp_rate for t in theirs)
    print("tierconf beats detect-secrets on recall and false-positive rate:", beats)
    return 0 if beats else 1


if __name__ == "__main__":
    sys.exit(main())
