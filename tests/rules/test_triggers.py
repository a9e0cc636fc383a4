"""Every rule fires from a layer file, with its severity in each tier, its setting path,
KEY and the file:line of the value that caused it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rules.cases import ALL_TIERS, CASES, Case
from rules.conftest import Applied
from tierconf.findings import Severity
from tierconf.rules import RULES, RULES_BY_CODE
from tierconf.rules._engine import key_of
from tierconf.tiers import EnvironmentTier

_DEMOTE: dict[Severity, Severity] = {"error": "warning", "warning": "info", "info": "info"}


def expected_severity(case: Case, tier: str) -> Severity | None:
    """The registry's severity for the tier, one level lower for a soft case."""
    if case.expect is not None:
        return case.expect[tier]
    base = RULES_BY_CODE[case.code].severity.for_tier(EnvironmentTier(tier))
    if base is None:
        return None
    return _DEMOTE[base] if case.soft else base


class TestEveryRuleFires:
    """One case per rule (and per soft variant), checked in all four tiers."""

    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    def test_fires_with_severity_path_key_and_line(
        self, case: Case, applied: Callable[[Case], Applied]
    ) -> None:
        """The finding has the tier's severity, the blamed path and KEY, and file:line."""
        tree = applied(case)
        for tier in ALL_TIERS:
            report = tree.validate(tier)
            hits = [f for f in report.findings if f.code == case.code and f.path == case.path]
            expected = expected_severity(case, tier)
            if expected is None:
                assert hits == [], (tier, hits)
                continue
            assert hits, (tier, [(f.code, f.path) for f in report.findings])
            finding = hits[0]
            assert finding.severity == expected, (tier, finding)
            assert finding.key == key_of(case.path)
            if case.line_of is None:
                assert (finding.file, finding.line) == (None, None), finding
            else:
                assert (finding.file, finding.line) == (str(tree.values), case.line()), finding
            assert "Fix: " in finding.message

    def test_every_rule_with_a_check_has_a_case(self) -> None:
        """No rule is left without a triggering case (live rules are tested against servers)."""
        covered = {case.code for case in CASES}
        missing = [r.code for r in RULES if r.check is not None and r.code not in covered]
        assert missing == []

    def test_cases_only_name_registered_rules(self) -> None:
        """Every case names a code of the registry."""
        assert {case.code for case in CASES} <= set(RULES_BY_CODE)


class TestRegistry:
    """The registry's metadata is complete and stable."""

    def test_codes_are_unique_and_well_formed(self) -> None:
        """Codes look like FAMILY-WORDS and are unique."""
        codes = [rule.code for rule in RULES]
        assert len(codes) == len(set(codes))
        assert all(code.replace("-", "").isalnum() and code.isupper() for code in codes)

    def test_every_rule_has_title_rationale_and_citation(self) -> None:
        """Title, rationale and citation are never empty; checked rules have a fix."""
        for rule in RULES:
            assert rule.title and rule.rationale and rule.citation, rule.code
            assert rule.fix or rule.check is None, rule.code

    def test_family_sizes(self) -> None:
        """At least 15 business rules and 25 security rules."""
        families = [rule.family for rule in RULES]
        assert families.count("business") >= 15
        assert families.count("security") >= 25

    def test_security_rules_cite_a_standard(self) -> None:
        """Each security rule cites ASVS, NIST, an RFC or MDN."""
        standards = ("ASVS", "NIST", "RFC", "MDN", "PostgreSQL", "Grafana")
        for rule in RULES:
            if rule.family == "security":
                assert any(s in rule.citation for s in standards), rule.code


class TestPublicNames:
    """The rules package exports what its ``__all__`` says."""

    def test_all_names_exist(self) -> None:
        """Every name in ``tierconf.rules.__all__`` is importable; live exports its API."""
        import tierconf.live
        import tierconf.rules

        assert all(hasattr(tierconf.rules, name) for name in tierconf.rules.__all__)
        assert set(tierconf.live.__all__) == {"LiveOptions", "live_findings"}
