"""Kustomize-compatible content-hash name suffixes for immutable ConfigMaps and Secrets.

Kustomize hashes ``{"kind", "name", "data"[, "type"][, "immutable"]}`` serialised by Go's
``encoding/json`` (sorted keys, no spaces, HTML characters escaped), takes the SHA-256 hex,
keeps the first 10 characters, and swaps ``0 1 3 a e`` for ``g h k m t`` so the suffix
cannot read as a number or a word with vowels. Matching it byte for byte lets objects we
render interoperate with kustomize-built ones (same content, same name).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

_SUBSTITUTIONS = str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"})


def _go_json(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def content_hash(manifest: Mapping[str, Any]) -> str:
    """The 10-character kustomize suffix for a ConfigMap or Secret manifest (before naming)."""
    kind = manifest["kind"]
    encoded: dict[str, Any] = {
        "kind": kind,
        "name": manifest["metadata"]["name"],
        "data": dict(manifest.get("data") or {}),
    }
    if kind == "Secret":
        encoded["type"] = manifest.get("type", "Opaque")
    if manifest.get("immutable"):
        encoded["immutable"] = True
    if manifest.get("binaryData"):
        encoded["binaryData"] = dict(manifest["binaryData"])
    digest = hashlib.sha256(_go_json(encoded).encode("utf-8")).hexdigest()
    return digest[:10].translate(_SUBSTITUTIONS)
