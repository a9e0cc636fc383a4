"""Environment tiers and their accepted spellings (CONTRACT.md: ``dev``, ``stg``, ``prod``)."""

from __future__ import annotations

from enum import StrEnum

from tierconf.errors import UsageError


class EnvironmentTier(StrEnum):
    """A deployment tier. The value is the canonical name used in files and labels."""

    LOCAL = "local"
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"

    @property
    def short(self) -> str:
        """The short name used in namespaces (``spotify-ai-agent-dev``)."""
        return _SHORT[self]

    @property
    def is_production_like(self) -> bool:
        """Staging and production: secrets must exist, plaintext and leaks are errors."""
        return self in (EnvironmentTier.STAGING, EnvironmentTier.PRODUCTION)

    @classmethod
    def parse(cls, text: str | EnvironmentTier) -> EnvironmentTier:
        """Accept a tier in any documented spelling; raise UsageError listing them otherwise."""
        if isinstance(text, EnvironmentTier):
            return text
        tier = _ALIASES.get(text.strip().lower())
        if tier is None:
            raise UsageError(
                f"unknown environment tier {text!r}; expected one of: "
                "local, development (dev), staging (stg), production (prod)"
            )
        return tier


_SHORT = {
    EnvironmentTier.LOCAL: "local",
    EnvironmentTier.DEVELOPMENT: "dev",
    EnvironmentTier.STAGING: "staging",
    EnvironmentTier.PRODUCTION: "prod",
}

_ALIASES = {
    "local": EnvironmentTier.LOCAL,
    "development": EnvironmentTier.DEVELOPMENT,
    "dev": EnvironmentTier.DEVELOPMENT,
    "staging": EnvironmentTier.STAGING,
    "stg": EnvironmentTier.STAGING,
    "stage": EnvironmentTier.STAGING,
    "production": EnvironmentTier.PRODUCTION,
    "prod": EnvironmentTier.PRODUCTION,
}

ALL_TIERS = tuple(EnvironmentTier)
