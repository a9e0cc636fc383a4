"""The secret detector: what it flags, what it leaves alone, and masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tierconf.rules import find_secrets, redact, shannon_entropy
from tierconf.rules._detect import secret_like_name


class TestDetection:
    """Credentials are found; look-alikes are not."""

    @pytest.mark.parametrize(
        ("key", "value", "code"),
        [
            ("X", "AKIAIOSFODNN7EXAMPLF", "LEAK-TOKEN-FORMAT"),
            ("X", "xoxb-2638392928-2637237382-aB3dEfGhIjKlMnOpQrStUvWx", "LEAK-TOKEN-FORMAT"),
            ("X", "postgresql://app:S3cr3tPassw0rd@db:5432/app", "LEAK-URL-CREDENTIALS"),
            ("X", "host=db user=app password=s3cr3tpass", "LEAK-URL-CREDENTIALS"),
            ("X", "https://x.example.com/?access_key=abc123def456", "LEAK-SECRET-KEYWORD"),
            ("SMTP_PASSWORD", "hunter2hunter", "LEAK-SECRET-KEYWORD"),
            ("X", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", "LEAK-HIGH-ENTROPY"),
            (
                "X",
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
                "LEAK-PRIVATE-KEY",
            ),
        ],
    )
    def test_flags_credentials(self, key: str, value: str, code: str) -> None:
        """Each planted credential is found with the right rule code."""
        assert [m.code for m in find_secrets(value, key)] == [code]

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("REQUEST_ID", "123e4567-e89b-12d3-a456-426614174000"),
            (
                "IMAGE",
                "registry.example.com/app@sha256:3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed",
            ),
            ("GIT_COMMIT", "3f786850e387550fdab836ed7e6dc881de23001b"),
            ("MODEL_DIR", "/var/lib/spotify-ai-agent/models/recommender-v2"),
            ("FACTORY", "spotifyRecommendationServiceClientFactory"),
            ("DB_PASSWORD", "${env:DB_PASSWORD}"),
            ("API_TOKEN", "{{ .Values.apiToken }}"),
            ("SMTP_PASSWORD", "********"),
            ("DB_PASSWORD_FILE", "/run/secrets/db-password"),
            ("TOKEN_URL", "https://oauth2.googleapis.com/token"),
            ("API_KEY_HEADER", "X-API-Key"),
            ("PASSWORD_MIN_LENGTH", "12"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_live_4eC39HqLyjWDarjtT1zdp7dc"),
            ("DATABASE_URL", "postgresql://app@db:5432/app"),
        ],
    )
    def test_ignores_look_alikes(self, key: str, value: str) -> None:
        """UUIDs, labelled digests, paths, identifiers, templates and masks are not secrets."""
        assert find_secrets(value, key) == []

    def test_redact_masks_every_match(self) -> None:
        """The masked text keeps its structure and loses every credential."""
        text = "https://u:S3cr3tPassw0rd@h.example.com and ghp_R8dK2mQ7xZ4vN1bT6yH9wC3sF5gJ0pL2aE7u"
        masked = redact(text)
        assert "S3cr3tPassw0rd" not in masked and "ghp_" not in masked
        assert masked.startswith("https://u:********@h.example.com")

    def test_describe_never_contains_the_value(self) -> None:
        """A match describes itself by kind, length and fingerprint only."""
        value = "token ghp_R8dK2mQ7xZ4vN1bT6yH9wC3sF5gJ0pL2aE7u"
        [match] = find_secrets(value)
        assert match.text(value) not in match.describe(value)
        assert "GitHub token" in match.describe(value)


class TestHelpers:
    """Entropy and name classification."""

    def test_entropy_limits(self) -> None:
        """A repeated character has no entropy; 32 distinct characters have 5 bits."""
        assert shannon_entropy("aaaa") == 0
        assert shannon_entropy("abcdefghijklmnopqrstuvwxyz012345") == pytest.approx(5.0)

    @pytest.mark.parametrize(
        ("name", "secret"),
        [
            ("DB_PASSWORD", True),
            ("STRIPE_API_KEY", True),
            ("clientSecret", True),
            ("GOOGLE_CLIENT_ID", False),
            ("PUBLIC_KEY", False),
            ("TOKEN_URL", False),
            ("PASSWORD_MIN_LENGTH", False),
            ("API_KEY_HEADER", False),
        ],
    )
    def test_secret_like_names(self, name: str, secret: bool) -> None:
        """detect-secrets' keywords count, gitleaks' known non-secrets do not."""
        assert secret_like_name(name) is secret


class TestCorpus:
    """The labelled corpus of benchmarks/secret_detection.py keeps its numbers."""

    def test_recall_and_false_positive_rate(self) -> None:
        """At least 98 % of planted secrets found, at most 2 % of look-alikes flagged."""
        corpus = Path(__file__).resolve().parents[1] / "data" / "secret_corpus.jsonl"
        samples = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line]
        assert len(samples) >= 300
        verdicts = [(bool(find_secrets(s["value"], s["key"])), s["secret"]) for s in samples]
        positives = [found for found, secret in verdicts if secret]
        negatives = [found for found, secret in verdicts if not secret]
        assert sum(positives) / len(positives) >= 0.98
        assert sum(negatives) / len(negatives) <= 0.02
