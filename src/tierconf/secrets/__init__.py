"""Secret sources and resolution (CONTRACT.md, "Secret settings")."""

from tierconf.secrets._resolve import (
    ResolvedSecret,
    SecretOptions,
    SecretValues,
    placeholder_secrets,
    resolve_secrets,
)
from tierconf.secrets._sources import (
    DirectorySecretSource,
    EnvSecretSource,
    GeneratedSecretSource,
    ReferenceSecretSource,
    SecretRequest,
    SecretSource,
)

__all__ = [
    "DirectorySecretSource",
    "EnvSecretSource",
    "GeneratedSecretSource",
    "ReferenceSecretSource",
    "ResolvedSecret",
    "SecretOptions",
    "SecretRequest",
    "SecretSource",
    "SecretValues",
    "placeholder_secrets",
    "resolve_secrets",
]
