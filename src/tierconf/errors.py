"""The one exception tree of tierconf.

Every error a user can cause is a :class:`TierconfError`; the CLI turns it into one line on
stderr and the exit code it carries, never a traceback::

    TierconfError                  exit 1 unless stated
    ├── ConfigError                a layer file or value is wrong; carries file:line
    │   ├── YamlSyntaxError        unparseable, bad encoding, tabs, unsafe tags, bombs
    │   ├── SchemaError            unknown key, wrong type, out of bounds, derived setting
    │   └── TenantGuardrailError   tenant file sets a non tenant-overridable setting
    ├── SecretError                a secret reference cannot be resolved
    ├── UsageError                 bad command-line input                     exit 2
    ├── StoreError                 the revision store refused or is damaged
    │   ├── StoreUrlError          --store names no store we can open: malformed   exit 2
    │   ├── ConcurrentUpdateError  the head moved under us (compare-and-swap lost)
    │   └── StoreVersionError      the store was written by a newer tierconf
    ├── DeployError                a target refused or is unreachable
    │   └── ApplyConflictError     another field manager owns a field (targets)
    ├── DependencyMissingError     an optional extra is not installed
    ├── SourceUnavailableError     a runtime source (volume, etcd) cannot be read (runtime)
    ├── LiveConfigClosedError      a LiveConfig was used after close() (runtime)
    ├── ManifestError              an etcd release manifest is incomplete or corrupt (etcd)
    └── ClientClosedError          a config-driven client was used after close() (integrations)

Errors marked with a package live there, next to the code that raises them.

Library errors are translated at the boundary (``raise SchemaError(...) from exc``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value came from: a file and a 1-based line (``None`` when unknown)."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


class TierconfError(Exception):
    """Root of every tierconf error. ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        path: str | None = None,
        tenant: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.path = path
        self.tenant = tenant

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location is not None else ""
        return prefix + self.message


class ConfigError(TierconfError):
    """The configuration tree is wrong; the message names the file:line and the fix."""


class YamlSyntaxError(ConfigError):
    """A layer file cannot be read as strict, safe YAML."""


class SchemaError(ConfigError):
    """A value does not fit the schema (unknown key, type, bounds, derived setting)."""


class TenantGuardrailError(SchemaError):
    """A tenant overlay sets a setting that is not tenant-overridable."""


class SecretError(TierconfError):
    """A secret cannot be resolved (missing env var, unreadable file, absent in production)."""


class UsageError(TierconfError):
    """The command line is wrong (unknown tier, malformed --set...)."""

    exit_code = 2


class StoreError(TierconfError):
    """The revision store refused an operation or is damaged."""


class StoreUrlError(StoreError):
    """A store URL is malformed or has an unknown scheme: a command-line usage error."""

    exit_code = 2


class ConcurrentUpdateError(StoreError):
    """Another writer recorded a revision first; re-read the head and retry."""


class StoreVersionError(StoreError):
    """The store's schema is newer than this tierconf understands."""


class DeployError(TierconfError):
    """A delivery target refused the change or cannot be reached."""


class DependencyMissingError(TierconfError):
    """An optional dependency is missing; the message gives the pip extra to install."""


def missing_extra(module: str, extra: str) -> DependencyMissingError:
    """Build the error raised when an optional import fails."""
    return DependencyMissingError(
        f"{module} is not installed; install it with: pip install 'tierconf[{extra}]'"
    )


class InvalidConfigurationError(ConfigError):
    """Several configuration problems found in one pass; ``problems`` holds each of them."""

    def __init__(self, problems: tuple[ConfigError, ...]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(first.message + more, location=first.location, path=first.path)
        self.problems = problems
