"""docs/rules.md is generated from the registry and kept in sync."""

from __future__ import annotations

from pathlib import Path

from tierconf.rules import RULES, rules_reference

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


class TestRulesReference:
    """The committed reference equals what the registry generates."""

    def test_docs_in_sync(self) -> None:
        """Regenerate with `python -m tierconf.rules > docs/rules.md` when this fails."""
        assert DOCS.read_text(encoding="utf-8") == rules_reference()

    def test_lists_every_rule_with_severities_and_citation(self) -> None:
        """Each code has a table row with four tier columns and a citation section."""
        text = rules_reference()
        for rule in RULES:
            row = next(line for line in text.splitlines() if line.startswith(f"| `{rule.code}` |"))
            assert row.count("|") == 7
            assert f"### {rule.code}\n" in text
            assert rule.citation in text
