"""Running every rule on one configuration: silences, redaction, unknown silence codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from tierconf.findings import Finding
from tierconf.pipeline import ResolvedConfig
from tierconf.rules._detect import MASK, redact
from tierconf.rules._engine import Redactor, Rule, RuleContext, TierResolver, apply_rules
from tierconf.rules._leaks import scan_leaks
from tierconf.tree import PROJECT_FILE, Silence

SILENCE_UNKNOWN = "RULE-SILENCE-UNKNOWN"


def make_redactor(resolved: ResolvedConfig, secrets: Mapping[str, str] | None = None) -> Redactor:
    """A function that masks, in any text, every leaked value of ``resolved`` and every
    known secret value, then anything else that looks like a credential."""
    known = {leak.secret for leak in scan_leaks(resolved)}
    known.update(value for value in (secrets or {}).values() if len(value) >= 4)
    ordered = sorted(known, key=len, reverse=True)

    def mask(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, MASK)
        return redact(text)

    return mask


def _unknown_silences(
    resolved: ResolvedConfig, silences: Sequence[Silence], codes: set[str]
) -> list[Finding]:
    tree = resolved.tree
    display = f"{tree.display_root.rstrip('/')}/{PROJECT_FILE}"
    return [
        Finding(
            "error",
            SILENCE_UNKNOWN,
            "silence",
            None,
            f"silence entry for unknown rule {silence.code!r}; fix: use a code listed in "
            "docs/rules.md (`python -m tierconf.rules`) or remove the entry",
            display,
            silence.line,
        )
        for silence in silences
        if silence.code not in codes
    ]


def run_rules(
    resolved: ResolvedConfig,
    silences: Sequence[Silence] | None = None,
    *,
    rules: Sequence[Rule],
    today: date | None = None,
    secrets: Mapping[str, str] | None = None,
    resolver: TierResolver | None = None,
) -> list[Finding]:
    """Every finding of ``rules`` on ``resolved``.

    Args:
        resolved: A schema-valid configuration.
        silences: Reviewed exceptions; default: the tree's ``tierconf.yaml`` list.
        rules: The rules to run (``tierconf.rules.RULES``).
        today: Compared with flag expiry dates (the engine never reads the clock).
        secrets: Resolved secret values by KEY, for rules that need them.
        resolver: Resolves the same tenant in another tier (cross-tier flag rule).
    """
    if silences is None:
        silences = resolved.tree.project.silence
    ctx = RuleContext(resolved, today, dict(secrets or {}), resolver, resolved.tree.tenants())
    redactor = make_redactor(resolved, secrets)
    findings = apply_rules(ctx, rules, silences, redactor)
    findings.extend(_unknown_silences(resolved, silences, {r.code for r in rules}))
    return findings
