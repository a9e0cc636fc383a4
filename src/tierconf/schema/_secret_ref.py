"""``SecretRef``: what a secret setting holds in the typed config instead of its value.

Layer files may write ``${env:NAME}`` (read the environment variable NAME at render time),
``${file:PATH}`` (read the file PATH, relative to the layer file's directory), or leave the
setting unset (resolved from ``TIERCONF_SECRET_<KEY>``, ``--secrets-dir`` or, in local and
development, a generated value). A plaintext literal is accepted only in the local tier;
the loader reports it everywhere else. The value itself never lives in the typed config:
it is resolved by ``tierconf.secrets`` when manifests are rendered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

SecretKind = Literal["env", "file", "literal"]

_REFERENCE = re.compile(r"^\$\{(env|file):([^}]+)\}$")
MASK = "********"


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A reference to a secret value, never the value itself (except ``literal``, local only).

    ``repr`` and ``str`` never show a literal's text.
    """

    kind: SecretKind
    target: str

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        """Parse ``${env:NAME}`` / ``${file:PATH}``; any other text is a literal."""
        match = _REFERENCE.match(text.strip())
        if match is None:
            return cls(kind="literal", target=text)
        kind: SecretKind = "env" if match.group(1) == "env" else "file"
        return cls(kind=kind, target=match.group(2).strip())

    @property
    def is_reference(self) -> bool:
        """True for ``${env:...}`` and ``${file:...}``, False for a literal value."""
        return self.kind != "literal"

    def describe(self) -> str:
        """A printable form: the reference as written, or a mask for a literal."""
        if self.kind == "literal":
            return MASK
        return f"${{{self.kind}:{self.target}}}"

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()})"

    __str__ = describe

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def from_any(value: Any) -> SecretRef:
            if isinstance(value, SecretRef):
                return value
            if isinstance(value, str):
                return cls.parse(value)
            raise ValueError("a secret reference must be a string like ${env:NAME} or ${file:PATH}")

        return core_schema.no_info_plain_validator_function(
            from_any,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda ref: ref.describe(), when_used="always"
            ),
        )
