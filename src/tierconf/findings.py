"""Findings: what validation reports, in the shape CONTRACT.md fixes for ``--format json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from tierconf.errors import ConfigError, TenantGuardrailError, YamlSyntaxError

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One validation result. ``message`` never contains a secret value."""

    severity: Severity
    code: str
    path: str
    key: str | None
    message: str
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The CONTRACT.md JSON object for this finding."""
        return asdict(self)

    def where(self) -> str:
        """``file:line`` or the path when the finding has no file."""
        if self.file is None:
            return self.path
        return f"{self.file}:{self.line}" if self.line is not None else self.file


def finding_from_error(error: ConfigError, key_of: dict[str, str] | None = None) -> Finding:
    """Turn a loading/schema problem into an error finding."""
    if isinstance(error, YamlSyntaxError):
        code = "YAML-SYNTAX"
    elif isinstance(error, TenantGuardrailError):
        code = "TENANT-GUARDRAIL"
    else:
        code = getattr(error, "code", None) or "SCHEMA"
    path = error.path or ""
    location = error.location
    return Finding(
        severity="error",
        code=code,
        path=path,
        key=(key_of or {}).get(path),
        message=error.message,
        file=location.file if location is not None else None,
        line=location.line if location is not None else None,
    )
