"""Provenance: where every merged value came from, and what it overrode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tierconf.errors import Location


@dataclass(frozen=True, slots=True)
class Origin:
    """One layer's contribution to a setting: the layer, its file and line, and the value."""

    layer: str
    kind: str
    file: str | None
    line: int | None
    value: Any

    @property
    def location(self) -> Location | None:
        """The file:line of this contribution (None for ``--set`` and derived values)."""
        return Location(self.file, self.line) if self.file is not None else None

    def where(self) -> str:
        """Human form: ``base/database.yaml:12`` or the layer name (``--set``)."""
        return str(self.location) if self.location is not None else self.layer


@dataclass(frozen=True, slots=True)
class LayeredValue:
    """A merged setting: its winning value and the chain of layers, lowest first."""

    path: str
    chain: tuple[Origin, ...]

    @property
    def value(self) -> Any:
        """The winning value (after per-field merge)."""
        return self.chain[-1].value

    @property
    def origin(self) -> Origin:
        """The layer that won."""
        return self.chain[-1]
