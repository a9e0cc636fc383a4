"""Property-based fuzzing of the loader, the merge, the rule engine and the renderer.

Random and mutated layer files only ever produce a clean ``TierconfError`` with a location,
never another exception; validation only ever returns findings; whatever resolves renders,
and every rendered ConfigMap value parses back (``parse_rendered``) to the typed value.
``TIERCONF_SOAK=1`` multiplies the number of examples by 20.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliability.strategies import (
    BUNDLED,
    fuzz_settings,
    mutated_layer,
    random_bytes,
    random_layer_entries,
    valid_layer,
    values_layer,
)
from support import copy_bundled_tree
from tierconf.errors import ConfigError, InvalidConfigurationError, TierconfError
from tierconf.layering import merge_layers, nest
from tierconf.pipeline import ConfigRequest, resolve_config
from tierconf.render import get_path, parse_rendered, render
from tierconf.rules import run_rules
from tierconf.schema._registry import registry
from tierconf.secrets import placeholder_secrets
from tierconf.sources._layer import Entry, Layer, LayerKind, read_layer
from tierconf.sources._yaml import NULL_WORDS
from tierconf.tiers import EnvironmentTier
from tierconf.tree import load_tree
from tierconf.validation import validate

TIERS = tuple(EnvironmentTier)


def _kind_of(source: Path) -> LayerKind:
    folder = source.parent.name
    return "tenant" if folder == "tenants" else "environment" if folder == "environments" else "base"


def assert_located(problems: tuple[ConfigError, ...], display: str) -> None:
    """Every problem is a ConfigError naming the file (and a line when it has one)."""
    for problem in problems:
        assert isinstance(problem, ConfigError), type(problem)
        assert problem.location is not None and problem.location.file == display, problem
        assert problem.location.line is None or problem.location.line >= 1, problem


@pytest.fixture(scope="module")
def tree_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the bundled tree shared by the examples of this module."""
    return copy_bundled_tree(tmp_path_factory.mktemp("fuzz") / "tree")


class TestLoaderFuzz:
    """``read_layer`` never raises for problems in the file; each problem has a location."""

    @fuzz_settings(400)
    @given(case=mutated_layer())
    def test_mutated_bundled_files(
        self, case: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """Byte flips, deleted lines, indentation, tags, anchors, duplicates: clean problems only."""
        source, data = case
        path = tmp_path_factory.getbasetemp() / f"mutated-{source.name}"
        path.write_bytes(data)
        read = read_layer(path, "mutated.yaml", _kind_of(source))
        assert_located(read.problems, "mutated.yaml")

    @fuzz_settings(300)
    @given(data=random_bytes())
    def test_random_bytes(self, data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
        """Arbitrary bytes (and YAML-looking noise) read as a layer: clean problems only."""
        path = tmp_path_factory.getbasetemp() / "random.yaml"
        path.write_bytes(data)
        for kind in ("base", "tenant"):
            read = read_layer(path, "random.yaml", kind)  # type: ignore[arg-type]
            assert_located(read.problems, "random.yaml")


class TestPipelineFuzz:
    """A mutated tier file through the whole pipeline: a TierconfError or a config, nothing else."""

    @fuzz_settings(150)
    @given(case=mutated_layer(), tier=st.sampled_from(TIERS))
    def test_mutated_file_in_the_tree(
        self, case: tuple[Path, bytes], tier: EnvironmentTier, tree_dir: Path
    ) -> None:
        """The mutated file replaces its original in a tree copy; resolve fails cleanly or succeeds."""
        source, data = case
        target = tree_dir / source.relative_to(BUNDLED)
        original = target.read_bytes()
        target.write_bytes(data)
        tenant = source.stem if source.parent.name == "tenants" else None
        error: TierconfError | None = None
        try:
            resolve_config(load_tree(tree_dir), ConfigRequest(tier, tenant))
        except TierconfError as exc:
            error = exc
        finally:
            target.write_bytes(original)
        if isinstance(error, InvalidConfigurationError):
            assert error.problems and all(isinstance(p, ConfigError) for p in error.problems)
        elif error is not None:  # the project file or a usage problem (e.g. a tenant id)
            assert error.location is not None or error.exit_code == 2, error


class TestMergeFuzz:
    """Merging any layers of registry paths (values of any type) never raises; the schema then
    accepts the result (and the rules give findings) or reports each problem with its path."""

    @fuzz_settings(200)
    @given(layers=st.lists(random_layer_entries(), max_size=5), tier=st.sampled_from(TIERS))
    def test_merge_then_schema(self, layers: list[dict[str, Any]], tier: EnvironmentTier) -> None:
        """In-memory layers on the bundled tree: a config whose rules give findings, or problems."""
        extra = tuple(
            Layer("values", f"fuzz-{i}", None, {path: Entry(value, None) for path, value in entries.items()})
            for i, entries in enumerate(layers)
        )
        merged = merge_layers(extra, registry())
        nest(merged)
        error: InvalidConfigurationError | None = None
        try:
            resolved = resolve_config(load_tree(), ConfigRequest(tier, extra_layers=extra))
        except InvalidConfigurationError as exc:
            error = exc
        if error is not None:
            assert error.problems and all(p.path for p in error.problems)
        else:
            assert all(f.severity in ("error", "warning", "info") for f in run_rules(resolved))


class TestValidateFuzz:
    """Validation (schema + every rule) returns findings for any valid-ish config, never raises."""

    @fuzz_settings(200)
    @given(text=values_layer(), tier=st.sampled_from(TIERS))
    def test_findings_only(self, text: str, tier: EnvironmentTier, tree_dir: Path) -> None:
        """A random --values file: ``validate`` returns a report; each finding names where it came from."""
        values = tree_dir.parent / "values.yaml"
        values.write_text(text, encoding="utf-8")
        tree = load_tree(tree_dir)
        request = ConfigRequest(tier, "acme", values_files=(values,))
        report = validate(tree, request, checks=(run_rules,))
        for finding in report.findings:
            assert finding.severity in ("error", "warning", "info")
            assert finding.code and finding.message


class TestRenderRoundTrip:
    """render(parse(x)) round-trips: ConfigMap values parse back to the typed values."""

    @fuzz_settings(150)
    @given(text=valid_layer(), tier=st.sampled_from(TIERS))
    def test_configmap_values_parse_back(self, text: str, tier: EnvironmentTier, tree_dir: Path) -> None:
        """Every non-secret KEY rendered from a valid config parses back to its typed value."""
        values = tree_dir.parent / "values-render.yaml"
        values.write_text(text, encoding="utf-8")
        try:
            resolved = resolve_config(load_tree(tree_dir), ConfigRequest(tier, values_files=(values,)))
        except InvalidConfigurationError:  # a cross-field model rule: not this test's subject
            return
        reg = registry()
        secrets = placeholder_secrets(s.key for s in reg.settings if s.secret)
        for obj in render(resolved, secrets).objects:
            if obj.kind != "ConfigMap" or obj.domain == "flags":
                continue
            for key, text_value in obj.values().items():
                spec = reg.by_key[key]
                typed = get_path(resolved.config, spec.path)
                if round_trip_defined(typed):
                    assert parse_rendered(text_value, spec.type) == typed, (key, text_value, typed)

    def test_null_word_strings_round_trip(self, tree_dir: Path) -> None:
        """The string 'null' in a free-text setting comes back as the string 'null'."""
        values = tree_dir.parent / "values-null.yaml"
        values.write_text("ml:\n  model:\n    name: 'null'\n", encoding="utf-8")
        request = ConfigRequest(EnvironmentTier.DEVELOPMENT, values_files=(values,))
        resolved = resolve_config(load_tree(tree_dir), request)
        spec = registry().by_path["ml.model.name"]
        secrets = placeholder_secrets(s.key for s in registry().settings if s.secret)
        flat = render(resolved, secrets).flat()
        assert parse_rendered(flat[spec.key], spec.type) == "null"


def round_trip_defined(value: Any) -> bool:
    """Where the ConfigMap text form is unambiguous: lists are comma-joined and items stripped,
    and ``""`` is how null renders."""
    if isinstance(value, tuple):
        texts = [str(v) for v in value]
        return bool(texts) and all(t not in NULL_WORDS and "," not in t and t == t.strip() for t in texts)
    return not (isinstance(value, str) and value in NULL_WORDS)
