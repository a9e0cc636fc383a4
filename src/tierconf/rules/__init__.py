"""Validation rules: business rules, security policy, secret leaks, capacity, flags.

Every rule is a :class:`Rule` with a stable code, a rationale with its citation, a fix and
a severity per tier; :data:`RULES` lists them all, in the order of ``docs/rules.md``.
:func:`run_rules` runs them on a resolved configuration. To add a rule, write a check in
the family module and decorate it with ``@<FAMILY>.rule(...)``; then regenerate the docs
with ``python -m tierconf.rules > docs/rules.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from tierconf.findings import Finding
from tierconf.pipeline import ResolvedConfig
from tierconf.rules._business import BUSINESS
from tierconf.rules._capacity import CAPACITY
from tierconf.rules._detect import SecretMatch, find_secrets, redact, shannon_entropy
from tierconf.rules._docs import rules_markdown
from tierconf.rules._engine import (
    Rule,
    RuleContext,
    RuleHit,
    TierResolver,
    TierSeverity,
    hits_to_findings,
    shown,
)
from tierconf.rules._flag_variants import FLAG_VARIANTS
from tierconf.rules._flags import FLAGS
from tierconf.rules._leaks import LEAKS
from tierconf.rules._live import LIVE
from tierconf.rules._runner import SILENCE_UNKNOWN, make_redactor
from tierconf.rules._runner import run_rules as _run_rules
from tierconf.rules._security import SECURITY
from tierconf.rules._transport import TRANSPORT
from tierconf.tree import Silence

RULES: tuple[Rule, ...] = (
    *BUSINESS.rules,
    *SECURITY.rules,
    *TRANSPORT.rules,
    *LEAKS.rules,
    *CAPACITY.rules,
    *FLAGS.rules,
    *FLAG_VARIANTS.rules,
    *LIVE.rules,
)
RULES_BY_CODE: Mapping[str, Rule] = {rule.code: rule for rule in RULES}
if len(RULES_BY_CODE) != len(RULES):  # pragma: no cover - a programming error
    raise RuntimeError("two rules share a code")


def run_rules(
    resolved: ResolvedConfig,
    silences: Sequence[Silence] | None = None,
    *,
    today: date | None = None,
    secrets: Mapping[str, str] | None = None,
    resolver: TierResolver | None = None,
) -> list[Finding]:
    """Run every rule of :data:`RULES` on ``resolved`` (see ``_runner.run_rules``)."""
    return _run_rules(resolved, silences, rules=RULES, today=today, secrets=secrets, resolver=resolver)


def rules_reference() -> str:
    """``docs/rules.md`` as generated from :data:`RULES`."""
    return rules_markdown(RULES)


__all__ = [
    "RULES",
    "RULES_BY_CODE",
    "SILENCE_UNKNOWN",
    "Rule",
    "RuleContext",
    "RuleHit",
    "SecretMatch",
    "TierSeverity",
    "find_secrets",
    "hits_to_findings",
    "make_redactor",
    "redact",
    "rules_reference",
    "run_rules",
    "shannon_entropy",
    "shown",
]
