"""Output formats of ``generate``: yaml, json, env and volume, to a directory or stdout.

Everything is rendered in memory first and only then written, each file atomically, so an
error leaves the previous output untouched. Files that carry secret values are 0600;
anything printed to stdout has its secrets masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from tierconf.render._files import write_file_atomic
from tierconf.render._manifests import RenderedSet
from tierconf.render._volume import write_volume

OutputFormat = Literal["yaml", "json", "env", "volume"]
FORMATS: tuple[OutputFormat, ...] = ("yaml", "json", "env", "volume")

try:
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]


def to_yaml(manifests: Sequence[Mapping[str, Any]]) -> str:
    """Multi-document YAML in the order given; keys keep their rendering order."""
    return yaml.dump_all(
        [dict(m) for m in manifests],
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=10_000,
        explicit_start=True,
    )


def to_json(manifests: Sequence[Mapping[str, Any]]) -> str:
    """A ``v1`` ``List`` of the manifests, indented, with a trailing newline."""
    document = {"apiVersion": "v1", "kind": "List", "items": list(manifests)}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


_ENV_SAFE = re.compile(r"^[A-Za-z0-9_./:@,+=%-]*$")


def env_line(key: str, value: str) -> str:
    """``KEY=value``, double-quoted with escapes when the value needs it (dotenv syntax)."""
    if _ENV_SAFE.match(value):
        return f"{key}={value}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
    return f'{key}="{escaped}"'


def to_env(values: Mapping[str, str]) -> str:
    """A dotenv file, KEYs sorted."""
    return "".join(env_line(k, values[k]) + "\n" for k in sorted(values))


@dataclass(frozen=True)
class WrittenFile:
    """A file written by ``generate``, for the summary line."""

    path: Path
    secret: bool


def write_rendered(rendered: RenderedSet, fmt: OutputFormat, out_dir: Path, app: str) -> list[WrittenFile]:
    """Write ``rendered`` under ``out_dir`` in ``fmt``; returns the files written."""
    public = [obj.manifest for obj in rendered.objects if not obj.is_secret]
    private = [obj.manifest for obj in rendered.objects if obj.is_secret]
    written: list[WrittenFile] = []
    if fmt in ("yaml", "json"):
        encode = to_yaml if fmt == "yaml" else to_json
        plan = [(f"configmaps.{fmt}", public, 0o644, False), (f"secrets.{fmt}", private, 0o600, True)]
        payloads = [
            (out_dir / name, encode(docs).encode(), mode, secret) for name, docs, mode, secret in plan if docs
        ]
        for path, data, mode, secret in payloads:
            write_file_atomic(path, data, mode=mode)
            written.append(WrittenFile(path, secret))
        return written
    if fmt == "env":
        path = out_dir / f"{app}.env"
        write_file_atomic(path, to_env(rendered.flat(masked=False)).encode(), mode=0o600)
        return [WrittenFile(path, True)]
    files: dict[str, tuple[bytes, int]] = {}
    for obj in rendered.objects:
        if obj.kind == "ExternalSecret":
            continue
        mode = 0o600 if obj.is_secret else 0o644
        for key, value in obj.values().items():
            files[key] = (value.encode("utf-8"), mode)
    write_volume(out_dir, files)
    return [WrittenFile(out_dir, any(obj.is_secret for obj in rendered.objects))]


def format_masked(rendered: RenderedSet, fmt: OutputFormat) -> str:
    """What ``generate -o -`` prints: the same formats with every secret masked."""
    if fmt == "yaml":
        return to_yaml(rendered.masked_manifests())
    if fmt == "json":
        return to_json(rendered.masked_manifests())
    return to_env(rendered.flat(masked=True))
