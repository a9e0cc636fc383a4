"""Where secret values come from. One small class per source behind one interface.

Resolution order (CONTRACT.md), first match wins: ``TIERCONF_SECRET_<KEY>`` in the
environment, a file ``<KEY>`` in ``--secrets-dir``, the reference written in the layer
(``${env:NAME}`` / ``${file:PATH}``), then (local and development only) a generated value
persisted under ``.tierconf/``.
"""

from __future__ import annotations

import json
import os
import secrets as _random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tierconf.errors import SecretError
from tierconf.schema._registry import SettingSpec
from tierconf.schema._secret_ref import SecretRef

ENV_PREFIX = "TIERCONF_SECRET_"


@dataclass(frozen=True, slots=True)
class SecretRequest:
    """What a source needs to look one secret up: the setting, the layer's reference (if
    any) and the directory that relative ``${file:...}`` references are relative to."""

    spec: SettingSpec
    ref: SecretRef | None
    base_dir: Path


class SecretSource(Protocol):
    """A place secret values can come from."""

    @property
    def name(self) -> str:
        """Short name of the source, for messages."""
        ...

    def lookup(self, request: SecretRequest) -> tuple[str, str] | None:
        """Return ``(value, where)`` or ``None`` when this source does not have it.

        ``where`` names the source for people (never the value).
        """
        ...


def _read_secret_file(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SecretError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SecretError(f"{what} {path} is not UTF-8 text") from exc


@dataclass(frozen=True)
class EnvSecretSource:
    """``TIERCONF_SECRET_<KEY>`` environment variables."""

    environ: Mapping[str, str]
    name: str = "environment"

    def lookup(self, request: SecretRequest) -> tuple[str, str] | None:
        """Look the KEY up in the environment."""
        variable = ENV_PREFIX + request.spec.key
        value = self.environ.get(variable)
        return (value, f"${variable}") if value else None


@dataclass(frozen=True)
class DirectorySecretSource:
    """Files named after the KEY in ``--secrets-dir`` (a mounted Secret volume works)."""

    directory: Path
    name: str = "secrets-dir"

    def lookup(self, request: SecretRequest) -> tuple[str, str] | None:
        """Read ``<dir>/<KEY>`` if it exists."""
        path = self.directory / request.spec.key
        if not path.is_file():
            return None
        value = _read_secret_file(path, "secret file")
        return (value, str(path)) if value else None


@dataclass(frozen=True)
class ReferenceSecretSource:
    """The ``${env:NAME}`` / ``${file:PATH}`` reference written in a layer file."""

    environ: Mapping[str, str]
    name: str = "reference"

    def lookup(self, request: SecretRequest) -> tuple[str, str] | None:
        """Follow the layer's reference; a plaintext literal (local tier only) is used as is."""
        ref = request.ref
        if ref is None:
            return None
        if ref.kind == "literal":
            return ref.target, "plaintext in a layer file"
        if ref.kind == "env":
            value = self.environ.get(ref.target)
            return (value, f"${ref.target}") if value else None
        path = Path(ref.target)
        if not path.is_absolute():
            path = request.base_dir / path
        if not path.is_file():
            return None
        value = _read_secret_file(path, "secret file")
        return (value, str(path)) if value else None


@dataclass
class GeneratedSecretSource:
    """Random values for local and development, kept (0600) so re-renders are identical."""

    state_file: Path
    name: str = "generated"
    _values: dict[str, str] | None = field(default=None, repr=False)
    _dirty: bool = False

    def _load(self) -> dict[str, str]:
        if self._values is None:
            self._values = {}
            if self.state_file.is_file():
                try:
                    loaded = json.loads(self.state_file.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise SecretError(
                        f"cannot read generated secrets {self.state_file}: {exc}; delete it to "
                        "generate new development secrets"
                    ) from exc
                if isinstance(loaded, dict):
                    self._values = {str(k): str(v) for k, v in loaded.items()}
        return self._values

    def lookup(self, request: SecretRequest) -> tuple[str, str] | None:
        """Return the kept value for the KEY, generating (and remembering) one if new."""
        values = self._load()
        key = request.spec.key
        if key not in values:
            # 64 random bytes: long enough for HS512 keys, which need the hash size.
            values[key] = _random.token_urlsafe(64)
            self._dirty = True
        return values[key], f"generated ({self.state_file})"

    def save(self) -> None:
        """Persist newly generated values (0600, atomic rename)."""
        if not self._dirty or self._values is None:
            return
        from tierconf.render._files import write_file_atomic

        self.state_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = json.dumps(self._values, indent=2, sort_keys=True) + "\n"
        write_file_atomic(self.state_file, payload.encode(), mode=0o600)
        self._dirty = False


def default_environ() -> Mapping[str, str]:
    """The process environment (read when secrets are resolved, never at import)."""
    return os.environ
