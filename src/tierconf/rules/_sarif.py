"""SARIF 2.1.0 output: findings as code-scanning results, rules as their metadata.

One run per invocation. Locations are relative to the config directory through the
``CONFIGDIR`` base URI, so GitHub code scanning (or any SARIF viewer opened on the
repository holding the tree) shows each finding on the layer-file line that caused it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tierconf.findings import Finding
from tierconf.rules._engine import Rule
from tierconf.tree import ConfigTree

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
BASE_ID = "CONFIGDIR"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
#: GitHub ranks security alerts by ``security-severity`` (0-10).
_SECURITY_SEVERITY = {"error": "8.0", "warning": "5.0", "info": "2.0"}


def _descriptor(rule: Rule) -> dict[str, Any]:
    level = rule.default_level()
    properties: dict[str, Any] = {
        "tags": sorted({rule.family, *(["security"] if rule.family in ("security", "leaks") else [])}),
        "severityByTier": {tier: sev or "not run" for tier, sev in rule.severity.as_dict().items()},
        "citation": rule.citation,
    }
    if rule.family in ("security", "leaks"):
        properties["security-severity"] = _SECURITY_SEVERITY[level]
    help_text = rule.rationale + (f" Fix: {rule.fix}." if rule.fix else "") + f" Citation: {rule.citation}."
    return {
        "id": rule.code,
        "name": rule.code,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {
            "text": help_text,
            "markdown": f"**{rule.title}.** {rule.rationale}\n\n"
            + (f"*Fix:* {rule.fix}.\n\n" if rule.fix else "")
            + f"*Citation:* {rule.citation}.",
        },
        "defaultConfiguration": {"level": _LEVEL[level]},
        "properties": properties,
    }


def _generic_descriptor(code: str) -> dict[str, Any]:
    return {
        "id": code,
        "name": code,
        "shortDescription": {"text": f"tierconf {code.lower().replace('-', ' ')} problem"},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["schema"]},
    }


def _artifact(tree: ConfigTree, file: str) -> dict[str, Any]:
    display_root = tree.display_root.rstrip("/") + "/"
    if file.startswith(display_root):
        return {"uri": file[len(display_root) :], "uriBaseId": BASE_ID}
    path = Path(file).resolve()
    try:
        return {"uri": path.relative_to(tree.root).as_posix(), "uriBaseId": BASE_ID}
    except ValueError:
        return {"uri": path.as_uri()}


def _result(
    finding: Finding, index: int, tree: ConfigTree, environment: str, tenant: str | None
) -> dict[str, Any]:
    location: dict[str, Any] = {
        "logicalLocations": [{"fullyQualifiedName": finding.path or "config", "kind": "member"}]
    }
    if finding.file is not None:
        physical: dict[str, Any] = {"artifactLocation": _artifact(tree, finding.file)}
        if finding.line is not None and finding.line >= 1:
            physical["region"] = {"startLine": finding.line}
        location["physicalLocation"] = physical
    identity = "|".join((finding.code, finding.path, environment, tenant or ""))
    return {
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [location],
        "partialFingerprints": {"tierconfFinding/v1": hashlib.sha256(identity.encode()).hexdigest()[:32]},
        "properties": {"environment": environment, "tenant": tenant, "key": finding.key},
    }


def to_sarif(
    tree: ConfigTree,
    reports: Sequence[tuple[str, str | None, Sequence[Finding]]],
    rules: Sequence[Rule],
    version: str,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log for ``(environment, tenant, findings)`` reports."""
    descriptors = [_descriptor(rule) for rule in rules]
    index: dict[str, int] = {rule.code: i for i, rule in enumerate(rules)}
    results = []
    for environment, tenant, findings in reports:
        for finding in findings:
            if finding.code not in index:
                index[finding.code] = len(descriptors)
                descriptors.append(_generic_descriptor(finding.code))
            results.append(_result(finding, index[finding.code], tree, environment, tenant))
    driver: Mapping[str, Any] = {
        "name": "tierconf",
        "version": version,
        "semanticVersion": version,
        "rules": descriptors,
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "originalUriBaseIds": {BASE_ID: {"uri": tree.root.as_uri() + "/"}},
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
